#!/usr/bin/env python3
"""Regenerates the gateway fixtures (docs/protocol.md §8) independently of the Rust code:

- requests.json: random parameter sets for the four services, with the signed string written
  here (sorted `name=value`, empty values left out), the signature computed by the openssl
  command line (`openssl dgst -sha1|-sha256 -sign`, `openssl dgst -md5` over string + key) and
  the URL / form body encoded here (encodeURIComponent's set, by urllib.parse.quote).
- ../../fuzz/seeds/gateway_reply/: a few of those replies and some hostile bodies, as the
  seed corpus of the `gateway_reply` fuzz target.
- replies.json: gateway replies, XML written here (random indentation, escaping, field order,
  GBK bodies) and signed by the openssl command line; and replies written and signed by the
  simulator (simulator/gateway-reply.js, node:crypto), the stand-in the JavaScript layer is
  tested against.

Keys: core/tests/fixtures (TEST keys only): the 1024-bit pair is the merchant's, the 2048-bit
pair is "Alipay's", and the MD5 key is shared.

    cd core/tests/gateway_fixtures && python3 make.py
"""
import base64
import json
import os
import random
import subprocess
import urllib.parse
from xml.sax.saxutils import escape

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "fixtures")
ROOT = os.path.join(HERE, "..", "..", "..")
MERCHANT_KEY = os.path.join(FIX, "test_rsa1024_pkcs8.pem")
ALIPAY_KEY = os.path.join(FIX, "test_rsa2048_pkcs8.pem")
MD5_KEY = open(os.path.join(FIX, "test_md5_key.txt")).read().strip()
PARTNER = "2088101568358171"

rng = random.Random(20240814)


def openssl_sign(content, sign_type, key_path):
    if sign_type == "MD5":
        out = subprocess.run(["openssl", "dgst", "-md5", "-r"], input=(content + MD5_KEY).encode("utf-8"),
                             capture_output=True, check=True).stdout
        return out.split()[0].decode()
    digest = {"RSA": "-sha1", "RSA2": "-sha256"}[sign_type]
    raw = subprocess.run(["openssl", "dgst", digest, "-sign", key_path], input=content.encode("utf-8"),
                         capture_output=True, check=True).stdout
    return base64.b64encode(raw).decode()


def sign_content(pairs):
    kept = [(k, v) for k, v in pairs if k not in ("sign", "sign_type") and v != ""]
    kept.sort(key=lambda kv: kv[0].encode("utf-8"))
    return "&".join(f"{k}={v}" for k, v in kept)


def uri(s):
    return urllib.parse.quote(s, safe="-_.!~*'()")


# --- Random values -------------------------------------------------------------------------

ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
TEXT_PIECES = list("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 ,.;:!?'()[]{}/\\+=&%#@*~^$|<>-_") + [
    "退款", "商品", "測試", "香港", "é", "ß", "€", "😀", "&amp;", "a=b", "%20", "+", "  ",
]


def rand_id(lo, hi):
    return "".join(rng.choice(ID_CHARS) for _ in range(rng.randint(lo, hi)))


def rand_text(lo, hi):
    out = ""
    while len(out) < lo or (len(out) < hi and rng.random() < 0.8):
        out += rng.choice(TEXT_PIECES)
    return out[:hi] if len(out) > hi else out


def rand_amount():
    cents = rng.choice([1, 10, 100, 12345, 100000000, rng.randint(1, 100000000)])
    whole, frac = divmod(cents, 100)
    form = rng.choice(["2", "1", "0"])
    if form == "2" or (form == "1" and frac % 10 != 0) or (form == "0" and frac != 0):
        return f"{whole}.{frac:02d}"
    if form == "1":
        return f"{whole}.{frac // 10}"
    return f"{whole}"


def rand_gmt(fmt):
    y, mo, d = rng.randint(2000, 2099), rng.randint(1, 12), rng.randint(1, 28)
    h, mi, s = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
    if fmt == "HK":
        return f"{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}"
    return f"{y:04d}{mo:02d}{d:02d}{h:02d}{mi:02d}{s:02d}"


def maybe(v, p=0.5):
    return v if rng.random() < p else ""


def service_params(service, gmt_format):
    if service == "single_trade_query":
        which = rng.choice(["out", "trade", "both"])
        return [("out_trade_no", rand_id(1, 64) if which != "trade" else ""),
                ("trade_no", "".join(rng.choice("0123456789") for _ in range(28)) if which != "out" else "")]
    if service == "forex_refund":
        amount_name = rng.choice(["return_amount", "return_rmb_amount"])
        return [("out_return_no", rand_id(1, 64)), ("out_trade_no", rand_id(1, 64)), (amount_name, rand_amount()),
                ("currency", rng.choice(["HKD", "USD", "CNY"])), ("gmt_return", rand_gmt(gmt_format)),
                ("reason", rand_text(1, 100)), ("is_sync", rng.choice(["Y", "N", ""])),
                ("notify_url", maybe("https://shop.example.com/alipay/refund?x=" + uri(rand_text(0, 20))[:100]))]
    if service == "alipay.acquire.refund.query":
        return [("out_trade_no", rand_id(1, 64)), ("out_return_no", rand_id(1, 128))]
    return [("notify_id", rand_text(1, 60).replace("\\", "") or "x")]


def requests():
    cases = []
    services = ["single_trade_query", "forex_refund", "alipay.acquire.refund.query", "notify_verify"]
    for i in range(48):
        service = services[i % 4]
        sign_type = "" if service == "notify_verify" else ["RSA", "RSA2", "MD5"][(i // 4) % 3]
        method = rng.choice(["GET", "POST"])
        gmt_format = rng.choice(["HK", "COMPACT"])
        params = service_params(service, gmt_format)
        rng.shuffle(params)
        sent = [(k, v) for k, v in params if v != ""] + [
            ("service", service), ("partner", PARTNER), ("_input_charset", "utf-8")]
        sent.sort(key=lambda kv: kv[0].encode("utf-8"))
        content = sign_content(sent)
        if sign_type:
            sign = openssl_sign(content, sign_type, MERCHANT_KEY)
            sent += [("sign", sign), ("sign_type", sign_type)]
        else:
            sign = None
        encoded = "&".join(f"{uri(k)}={uri(v)}" for k, v in sent)
        gateway = "https://intlmapi.alipay.com/gateway.do"
        url = f"{gateway}?{encoded}" if method == "GET" else f"{gateway}?_input_charset=utf-8"
        cases.append({
            "service": service, "sign_type": sign_type, "method": method, "gmt_format": gmt_format,
            "params": params, "content": content if sign_type else "", "sign": sign, "sent": sent,
            "url": url, "body": encoded if method == "POST" else None,
        })
    return cases


# --- Replies ------------------------------------------------------------------------------

TRADE_FIELDS = ["buyer_email", "buyer_id", "discount", "flag_trade_locked", "gmt_create", "gmt_last_modified_time",
                "gmt_payment", "is_total_fee_adjust", "operator_role", "out_trade_no", "payment_type", "price",
                "quantity", "seller_email", "seller_id", "subject", "to_buyer_fee", "to_seller_fee", "total_fee",
                "trade_no", "trade_status", "use_coupon"]


def xml_reply(fields, element, sign, sign_type, style, is_success="T", error=None, echo=None, charset="utf-8"):
    nl, ind = style
    parts = [f'<?xml version="1.0" encoding="{charset}"?>', "<alipay>"]
    def line(depth, text):
        parts.append(ind * depth + text)
    line(1, f"<is_success>{is_success}</is_success>")
    if error:
        line(1, f"<error>{error}</error>")
    if echo:
        line(1, "<request>")
        for k, v in echo:
            line(2, f'<param name="{escape(k)}">{escape(v)}</param>')
        line(1, "</request>")
    if fields is not None:
        line(1, "<response>")
        depth = 2
        if element:
            line(2, f"<{element}>")
            depth = 3
        for k, v in fields:
            if v == "" and rng.random() < 0.5:
                line(depth, f"<{k}/>")
            elif rng.random() < 0.15 and "]]>" not in v:
                line(depth, f"<{k}><![CDATA[{v}]]></{k}>")
            else:
                line(depth, f"<{k}>{escape(v)}</{k}>")
        if element:
            line(2, f"</{element}>")
        line(1, "</response>")
    if sign is not None:
        line(1, f"<sign>{sign}</sign>")
        line(1, f"<sign_type>{sign_type}</sign_type>")
    parts.append("</alipay>")
    return nl.join(parts)


STYLES = [("", ""), ("\n", "  "), ("\r\n", "\t"), ("\n", "    "), ("\n  \n", " ")]


def trade_fields(status, gbk=False):
    out_trade_no = rand_id(8, 64)
    values = {
        "buyer_email": rng.choice(["for***@alitest.com", "138****8888", "a***@b.c"]),
        "buyer_id": "2088" + "".join(rng.choice("0123456789") for _ in range(12)),
        "discount": "0.00", "flag_trade_locked": "0", "gmt_create": rand_gmt("HK"),
        "gmt_last_modified_time": rand_gmt("HK"), "gmt_payment": rand_gmt("HK"),
        "is_total_fee_adjust": "N", "operator_role": "B", "out_trade_no": out_trade_no, "payment_type": "100",
        "price": rand_amount(), "quantity": "1", "seller_email": "shop@example.com", "seller_id": PARTNER,
        "subject": rng.choice(["商品名稱", "测试商品", "商品 & <測試>"]) if gbk else rand_text(1, 40),
        "to_buyer_fee": "0.00", "to_seller_fee": "0.00", "total_fee": rand_amount(), "trade_no":
        "".join(rng.choice("0123456789") for _ in range(28)), "trade_status": status, "use_coupon": "F",
    }
    names = rng.sample(TRADE_FIELDS, rng.randint(6, len(TRADE_FIELDS)))
    for must in ("trade_status", "out_trade_no", "trade_no") + (("subject",) if gbk else ()):
        if must not in names:
            names.append(must)
    if rng.random() < 0.3:
        names.append("extra_" + rand_id(1, 8).lower().replace("-", "_"))
        values[names[-1]] = rand_id(0, 10) if gbk else rand_text(0, 10)
    rng.shuffle(names)
    return [(n, values[n]) for n in names]


def replies():
    out = []
    statuses = ["TRADE_FINISHED", "TRADE_SUCCESS", "WAIT_BUYER_PAY", "TRADE_CLOSED"]
    for i in range(24):
        sign_type = ["RSA", "RSA2", "MD5"][i % 3]
        status = statuses[i % 4]
        gbk = i in (4, 5, 9, 15)
        fields = trade_fields(status, gbk)
        content = sign_content(fields)
        sign = openssl_sign(content, sign_type, ALIPAY_KEY)
        if sign_type != "MD5" and rng.random() < 0.3:
            sign = "\n      ".join(sign[j:j + 64] for j in range(0, len(sign), 64))
        echo = [("_input_charset", "utf-8"), ("service", "single_trade_query"), ("partner", PARTNER),
                ("out_trade_no", dict(fields)["out_trade_no"])] if rng.random() < 0.7 else None
        text = xml_reply(fields, "trade", sign, sign_type, rng.choice(STYLES), echo=echo,
                         charset="GBK" if gbk else rng.choice(["utf-8", "UTF-8"]))
        body = text.encode("gbk" if gbk else "utf-8")
        out.append({"name": f"trade_{i}_{sign_type}_{status}{'_gbk' if gbk else ''}", "source": "openssl",
                    "service": "single_trade_query", "key": "md5" if sign_type == "MD5" else "alipay",
                    "body_base64": base64.b64encode(body).decode(), "fields": fields, "content": content,
                    "expect": {"status": "PAID" if status in ("TRADE_FINISHED", "TRADE_SUCCESS") else
                               {"WAIT_BUYER_PAY": "WAIT_BUYER_PAY", "TRADE_CLOSED": "CLOSED"}[status],
                               "out_trade_no": dict(fields)["out_trade_no"], "trade_no": dict(fields)["trade_no"]}})
    # Signed with the merchant's own key: never verifies with Alipay's.
    fields = trade_fields("TRADE_SUCCESS")
    for sign_type in ("RSA", "RSA2"):
        sign = openssl_sign(sign_content(fields), sign_type, MERCHANT_KEY)
        text = xml_reply(fields, "trade", sign, sign_type, ("\n", "  "))
        out.append({"name": f"trade_merchant_key_{sign_type}", "source": "openssl", "service": "single_trade_query",
                    "key": "alipay", "body_base64": base64.b64encode(text.encode()).decode(), "fields": fields,
                    "content": sign_content(fields), "expect": {"error": "ERR_ALIPAYHK_REPLY_SIGNATURE",
                                                                "reason": "BAD_SIGNATURE"}})
    # Refund query (docs/protocol.md §8.5): fields inside <alipay>, inside another element, or directly in <response>.
    codes = [("SUCCESS", "SUCCESS", "SUCCESS"), ("SUCCESS", "FAILED", "FAILED"), ("SUCCESS", "PROCESSING", "PROCESSING"),
             ("SUCCESS", "CANCELED", "CANCELED"), ("NOT_FOUND", "", "NOT_FOUND"), ("TRADE_NOT_EXIST", "", "NOT_FOUND")]
    for i, (response_code, result_code, expect) in enumerate(codes * 2):
        sign_type = ["RSA2", "RSA", "MD5"][i % 3]
        element = ["alipay", "refund", None][i % 3]
        fields = [("response_code", response_code), ("refund_result_code", result_code),
                  ("out_trade_no", rand_id(1, 64)), ("out_return_no", rand_id(1, 128)),
                  ("trade_no", "".join(rng.choice("0123456789") for _ in range(28))), ("gmt_create", rand_gmt("HK"))]
        if result_code in ("FAILED", "PROCESSING"):
            fields.append(("refund_error_code", "MERCHANT_BALANCE_NOT_ENOUGH"))
        rng.shuffle(fields)
        content = sign_content(fields)
        sign = openssl_sign(content, sign_type, ALIPAY_KEY)
        text = xml_reply(fields, element, sign, sign_type, rng.choice(STYLES))
        d = dict(fields)
        out.append({"name": f"refund_query_{i}_{sign_type}_{expect}", "source": "openssl",
                    "service": "alipay.acquire.refund.query", "key": "md5" if sign_type == "MD5" else "alipay",
                    "body_base64": base64.b64encode(text.encode()).decode(), "fields": fields, "content": content,
                    "expect": {"status": expect, "out_trade_no": d["out_trade_no"], "out_return_no": d["out_return_no"]}})
    out += simulator_replies()
    return out


SIMULATOR_SCRIPT = r"""
const fs = require('node:fs')
const { buildReply, signReplyFields } = require(process.argv[1] + '/simulator/gateway-reply.js')
const keys = {
  privateKey: fs.readFileSync(process.argv[2], 'utf8'),
  md5Key: fs.readFileSync(process.argv[3], 'utf8').trim(),
}
const out = []
const trade = {
  buyer_email: 'for***@alitest.com', buyer_id: '2088102122524333', gmt_create: '2024-05-02 14:41:14',
  gmt_payment: '2024-05-02 14:41:30', out_trade_no: 'SIM-ORDER-1', payment_type: '100', seller_id: '2088101568358171',
  subject: '商品名稱 & <測試>', total_fee: '12.50', trade_no: '2024050221001003140213828085',
  trade_status: 'TRADE_FINISHED', use_coupon: '', discount: '0.00',
}
for (const [signType, charset, indent] of [['RSA2', 'utf-8', true], ['RSA', 'utf-8', false], ['MD5', 'utf-8', true], ['RSA2', 'gbk', true]]) {
  const fields = trade
  const sign = signReplyFields(fields, signType, keys)
  const reply = buildReply({ isSuccess: true, request: [['service', 'single_trade_query'], ['out_trade_no', 'SIM-ORDER-1']],
    response: { element: 'trade', fields }, sign, signType }, { charset, indent })
  out.push({ name: `simulator_trade_${signType}_${charset}`, service: 'single_trade_query', signType, body: reply.body.toString('base64'),
    expect: { status: 'PAID', out_trade_no: 'SIM-ORDER-1', trade_no: trade.trade_no } })
}
const refund = { response_code: 'SUCCESS', refund_result_code: 'PROCESSING', refund_error_code: 'MERCHANT_BALANCE_NOT_ENOUGH',
  out_trade_no: 'SIM-ORDER-1', out_return_no: 'SIM-REFUND-1', trade_no: '2024050221001003140213828085', gmt_create: '2024-05-03 10:00:00' }
for (const signType of ['RSA2', 'MD5']) {
  const sign = signReplyFields(refund, signType, keys)
  const reply = buildReply({ isSuccess: true, response: { element: 'alipay', fields: refund }, sign, signType }, { indent: true })
  out.push({ name: `simulator_refund_query_${signType}`, service: 'alipay.acquire.refund.query', signType, body: reply.body.toString('base64'),
    expect: { status: 'PROCESSING', out_trade_no: 'SIM-ORDER-1', out_return_no: 'SIM-REFUND-1' } })
}
for (const [service, error] of [['single_trade_query', 'TRADE_NOT_EXIST'], ['forex_refund', 'RETURN_AMOUNT_EXCEED'],
  ['forex_refund', 'REPEATED_REFUNDMENT_REQUEST'], ['single_trade_query', 'ILLEGAL_PARTNER_EXTERFACE']]) {
  const reply = buildReply({ isSuccess: false, error }, { indent: true })
  out.push({ name: `simulator_${service}_${error}`, service, signType: null, body: reply.body.toString('base64'), expect: { error } })
}
const accepted = buildReply({ isSuccess: true }, { indent: false })
out.push({ name: 'simulator_forex_refund_accepted', service: 'forex_refund', signType: null, body: accepted.body.toString('base64'), expect: { accepted: true } })
process.stdout.write(JSON.stringify(out))
"""


def simulator_replies():
    raw = subprocess.run(["node", "-e", SIMULATOR_SCRIPT, os.path.abspath(ROOT), ALIPAY_KEY,
                          os.path.join(FIX, "test_md5_key.txt")], capture_output=True, check=True).stdout
    out = []
    for r in json.loads(raw):
        out.append({"name": r["name"], "source": "simulator", "service": r["service"],
                    "key": "md5" if r["signType"] == "MD5" else "alipay", "body_base64": r["body"],
                    "fields": None, "content": None, "expect": r["expect"]})
    return out


SEED_NAMES = ["trade_0_RSA_TRADE_FINISHED", "trade_1_RSA2_TRADE_SUCCESS", "trade_2_MD5_WAIT_BUYER_PAY",
              "trade_4_RSA2_TRADE_FINISHED_gbk", "refund_query_0_RSA2_SUCCESS", "refund_query_1_RSA_FAILED",
              "refund_query_2_MD5_PROCESSING", "simulator_trade_RSA2_utf-8", "simulator_refund_query_RSA2",
              "simulator_single_trade_query_TRADE_NOT_EXIST", "simulator_forex_refund_accepted"]
HOSTILE_SEEDS = {
    "notify_verify_true": b"true\n",
    "notify_verify_invalid": b"invalid",
    "html_502": b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>",
    "dtd_entity": b'<!DOCTYPE alipay [<!ENTITY a "T">]><alipay><is_success>&a;</is_success></alipay>',
    "duplicate_field": b"<alipay><is_success>T</is_success><response><trade><a>1</a><a>2</a></trade></response></alipay>",
    "truncated": b"<alipay><is_success>T</is_success><response><trade><trade_status>TRADE_SUCC",
}


def write_seeds(reply_list):
    seeds = os.path.join(HERE, "..", "..", "fuzz", "seeds", "gateway_reply")
    os.makedirs(seeds, exist_ok=True)
    by_name = {r["name"]: r for r in reply_list}
    for name in SEED_NAMES:
        with open(os.path.join(seeds, name), "wb") as f:
            f.write(base64.b64decode(by_name[name]["body_base64"]))
    for name, body in HOSTILE_SEEDS.items():
        with open(os.path.join(seeds, name), "wb") as f:
            f.write(body)


def main():
    with open(os.path.join(HERE, "requests.json"), "w", encoding="utf-8") as f:
        json.dump(requests(), f, ensure_ascii=False, indent=1)
        f.write("\n")
    reply_list = replies()
    with open(os.path.join(HERE, "replies.json"), "w", encoding="utf-8") as f:
        json.dump(reply_list, f, ensure_ascii=False, indent=1)
        f.write("\n")
    write_seeds(reply_list)


if __name__ == "__main__":
    main()
