//! `AlipayHK`, from JavaScript: the front most merchants use. One account's keys parsed once; typed orders
//! in, orderStr out; notifications and tradePay results checked with Alipay's key.
//!
//! Why it is a little over 400 lines: each method of the class is declared here with its
//! TypeScript signature and doc comment, which napi-rs needs beside the method.

use crate::convert::text_arg;
use crate::convert::{describe, is_nullish};
use crate::js_error::{run, Outcome};
use crate::keys::{public_keys_of, sign_types_of, signer_of_object};
use crate::notifications::{notify_body_of, notify_result, verify_notify_with};
use crate::order_str::trade_pay_result;
use crate::records::{options_of, own_key_names, param_value_of, params_of};
use alipayhk_pay_core::merchant::{self, Merchant, Order};
use alipayhk_pay_core::{order_str, Error, OrderParams, Signer, VerifyKey};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::sync::Arc;

const CONFIG_FIELDS: &[&str] = &[
    "partner",
    "sellerId",
    "signType",
    "privateKey",
    "md5Key",
    "alipayPublicKey",
    "acceptSignTypes",
    "gateway",
    "method",
    "gmtReturnFormat",
];
const ORDER_FIELDS: &[&str] = &[
    "outTradeNo",
    "subject",
    "body",
    "totalFee",
    "currency",
    "notifyUrl",
    "returnUrl",
    "timeout",
    "paymentInst",
    "extra",
];

fn reject_unknown(env: &Env, object: &Object<'_>, known: &[&str], arg: &str) -> Outcome<()> {
    for name in own_key_names(env, object, arg)? {
        if !known.contains(&name.as_str()) {
            return Err(Error::argument(
                &format!("{arg}.{name}"),
                format!(
                    "{arg}.{name} is not a known field (known: {}); check the spelling",
                    known.join(", ")
                ),
            )
            .into());
        }
    }
    Ok(())
}

fn object_arg<'env>(value: &Unknown<'env>, arg: &str, shape: &str) -> Outcome<Object<'env>> {
    if value.get_type()? != ValueType::Object || value.is_array()? || value.is_buffer()? {
        return Err(Error::argument(
            arg,
            format!("{arg} must be {shape}; got {}", describe(value)?),
        )
        .into());
    }
    Ok(unsafe { value.cast()? })
}

/// One merchant account: keys parsed once, fixed parameters filled in for you.
///
/// @example
/// ```ts
/// const alipay = new AlipayHK({
///   partner: '2088101568358171',
///   signType: 'RSA2',
///   privateKey: fs.readFileSync('merchant_private_key.pem', 'utf8'),
///   alipayPublicKey: fs.readFileSync('alipay_public_key.pem', 'utf8'),
/// })
/// const orderStr = alipay.buildOrderStr({ outTradeNo: 'A1', subject: '商品', totalFee: '12.50', notifyUrl: 'https://shop.example.com/alipay/notify' })
/// ```
#[napi(js_name = "AlipayHK")]
pub struct AlipayHK {
    merchant: Merchant,
    signer: Arc<Signer>,
    alipay_key: Option<Arc<VerifyKey>>,
    gateway: alipayhk_pay_core::gateway::GatewayConfig,
}

#[napi]
impl AlipayHK {
    /// Parses and checks the keys. Refuses an `alipayPublicKey` that is the merchant's own
    /// public key (the most common cause of failed verification).
    #[napi(constructor, ts_args_type = "config: AlipayHKConfig")]
    pub fn new(env: Env, this: This<Unknown>, config: Unknown) -> Result<Self> {
        run(&env, || {
            crate::convert::require_new::<AlipayHK>(
                &env,
                &this,
                "AlipayHK",
                "new AlipayHK(config)",
            )?;
            let object = object_arg(
                &config,
                "config",
                "{ partner, signType, privateKey | md5Key, alipayPublicKey? }",
            )?;
            reject_unknown(&env, &object, CONFIG_FIELDS, "config")?;
            let text_field = |name: &str| -> Outcome<Option<String>> {
                let value: Unknown = crate::convert::own_field(&object, name)?;
                Ok(if is_nullish(&value)? {
                    None
                } else {
                    Some(text_arg(&value, name)?)
                })
            };
            let partner = text_field("partner")?.ok_or_else(|| {
                Error::missing(
                    "partner",
                    "config.partner is required: the 16-digit partner ID (PID) starting with 2088 from AlipayHK's merchant portal",
                )
            })?;
            let seller_id = text_field("sellerId")?;
            let merchant = Merchant::new(&partner, seller_id.as_deref())?;
            let signer = signer_of_object(&object, "config")?;
            let alipay_public: Unknown = crate::convert::own_field(&object, "alipayPublicKey")?;
            let alipay_rsa = if is_nullish(&alipay_public)? {
                None
            } else {
                Some(public_keys_of(&alipay_public, "config.alipayPublicKey")?)
            };
            let accept: Unknown = crate::convert::own_field(&object, "acceptSignTypes")?;
            let accept = sign_types_of(&env, &accept, "config.acceptSignTypes")?;
            let alipay_key =
                merchant::alipay_verify_key(&signer, alipay_rsa, accept.as_deref())?.map(Arc::new);
            let gateway = crate::gateway::gateway_config_of(&object, &merchant.partner, "config")?;
            Ok(AlipayHK {
                merchant,
                signer,
                alipay_key,
                gateway,
            })
        })
    }

    /// Builds the orderStr for a typed order; `service`, `partner`, `seller_id`,
    /// `_input_charset`, `payment_type`, `product_code`, `forex_biz` are filled in, `currency`
    /// defaults to HKD and `paymentInst` to ALIPAYHK. Errors name the wire parameter in `field`.
    #[napi(
        ts_args_type = "order: AlipayHKOrder, options?: BuildOptions",
        ts_return_type = "string"
    )]
    pub fn build_order_str(
        &self,
        env: Env,
        order: Unknown,
        options: Option<Unknown>,
    ) -> Result<crate::convert::JsText> {
        run(&env, || {
            let params = self.order_params(&env, &order, options.as_ref())?;
            Ok(crate::convert::JsText(
                self.signer.sign_order(&params)?.order_str,
            ))
        })
    }

    /// `buildOrderStr` on the libuv thread pool; bad input rejects at once.
    #[napi(
        ts_args_type = "order: AlipayHKOrder, options?: AsyncBuildOptions",
        ts_return_type = "Promise<string>"
    )]
    pub fn build_order_str_async<'env>(
        &self,
        env: &'env Env,
        order: Unknown,
        options: Option<Unknown>,
    ) -> Result<Unknown<'env>> {
        let prepare = || {
            let params = self.order_params(env, &order, options.as_ref())?;
            let signal = crate::pool::signal_of(env, options.as_ref())?;
            Ok((
                crate::orders::SignOrderTask::new(self.signer.clone(), params),
                signal,
            ))
        };
        crate::pool::promise(env, prepare)
    }

    /// `verifyNotify` on the libuv thread pool.
    #[napi(
        ts_args_type = "body: NotifyBody, options?: { signal?: AbortSignal }",
        ts_return_type = "Promise<NotifyVerification>"
    )]
    pub fn verify_notify_async<'env>(
        &self,
        env: &'env Env,
        body: Unknown,
        options: Option<Unknown>,
    ) -> Result<Unknown<'env>> {
        let prepare = || {
            let key = self.alipay_key("verifyNotifyAsync")?;
            let body = notify_body_of(env, &body)?;
            let signal = crate::pool::signal_of(env, options.as_ref())?;
            Ok((
                crate::notifications::VerifyNotifyTask::new(key, body),
                signal,
            ))
        };
        crate::pool::promise(env, prepare)
    }

    /// Checks a notification with Alipay's public key (or the MD5 key); see `verifyNotify`.
    #[napi(
        ts_args_type = "body: NotifyBody",
        ts_return_type = "NotifyVerification"
    )]
    pub fn verify_notify<'env>(&self, env: &'env Env, body: Unknown) -> Result<Object<'env>> {
        run(env, || {
            let key = self.alipay_key("verifyNotify")?;
            let body = notify_body_of(env, &body)?;
            Ok(notify_result(env, verify_notify_with(body, &key))?)
        })
    }

    /// Checks a tradePay result with Alipay's public key; see `verifyTradePayResult`.
    #[napi(
        ts_args_type = "result: string",
        ts_return_type = "TradePayVerification"
    )]
    pub fn verify_trade_pay_result<'env>(
        &self,
        env: &'env Env,
        result: Unknown,
    ) -> Result<Object<'env>> {
        run(env, || {
            let key = self.alipay_key("verifyTradePayResult")?;
            let text = text_arg(&result, "result")?;
            Ok(trade_pay_result(
                env,
                &order_str::verify_trade_pay_result(&text, &key),
            )?)
        })
    }

    /// The request for a gateway service for this account, signed with its key (see
    /// `gatewayRequest`); the account's `gateway`, `method` and `gmtReturnFormat` apply.
    /// `options.now` (milliseconds since the epoch) is the clock for `gmt_return`.
    #[napi(
        ts_args_type = "service: GatewayService, params: Record<string, string | number | undefined>, options?: { now?: number }",
        ts_return_type = "GatewayHttpRequest"
    )]
    pub fn gateway_request(
        &self,
        env: Env,
        service: Unknown,
        params: Unknown,
        options: Option<Unknown>,
    ) -> Result<crate::gateway::GatewayHttpRequest> {
        run(&env, || {
            let service = crate::gateway::service_of(&service)?;
            let mut now = None;
            if let Some(o) = options
                .as_ref()
                .filter(|o| !matches!(o.get_type(), Ok(ValueType::Undefined | ValueType::Null)))
            {
                let o = object_arg(o, "options", "{ now? }")?;
                let n: Unknown = crate::convert::own_field(&o, "now")?;
                if !is_nullish(&n)? {
                    now = Some(crate::gateway::unix_secs_of(&n, "options.now")?);
                }
            }
            crate::gateway::request_for(
                &env,
                service,
                &params,
                &self.gateway,
                Some(&self.signer),
                now,
            )
        })
    }

    /// Checks a gateway reply with Alipay's key held by this account (see
    /// `parseGatewayReply`); the accepted sign types apply.
    #[napi(
        ts_args_type = "service: GatewayService, reply: string | Buffer | Uint8Array, expected?: GatewayExpected",
        ts_return_type = "GatewayReply"
    )]
    pub fn parse_gateway_reply(
        &self,
        env: Env,
        service: Unknown,
        reply: Unknown,
        expected: Option<Unknown>,
    ) -> Result<crate::gateway::GatewayReply> {
        run(&env, || {
            let service = crate::gateway::service_of(&service)?;
            let key = match service {
                alipayhk_pay_core::gateway::Service::NotifyVerify => None,
                _ => Some(self.alipay_key("parseGatewayReply")?),
            };
            let expected = crate::gateway::expected_of(&env, expected.as_ref())?;
            let body = crate::gateway::reply_bytes_of(&reply)?;
            crate::gateway::reply_of(service, &body, key.as_deref(), &expected)
        })
    }

    /// The gateway URL this account calls.
    #[napi(getter)]
    pub fn gateway_url(&self) -> String {
        self.gateway.gateway.url().to_owned()
    }

    /// The partner ID.
    #[napi(getter)]
    pub fn partner(&self) -> String {
        self.merchant.partner.clone()
    }

    /// The seller ID written into orders (the partner ID unless configured).
    #[napi(getter)]
    pub fn seller_id(&self) -> String {
        self.merchant
            .seller_id
            .clone()
            .unwrap_or_else(|| self.merchant.partner.clone())
    }

    /// `'RSA'`, `'RSA2'` or `'MD5'`.
    #[napi(getter, ts_return_type = "SignType")]
    pub fn sign_type(&self) -> &'static str {
        self.signer.sign_type().as_str()
    }

    /// SHA-256 hex of the merchant's public key (or of the MD5 key).
    #[napi(getter)]
    pub fn fingerprint(&self) -> String {
        self.signer.fingerprint()
    }

    /// SHA-256 hex of each of Alipay's public keys held (several during a key rotation);
    /// what `keyFingerprint` of a verified notification is one of.
    #[napi(getter)]
    pub fn alipay_key_fingerprints(&self) -> Vec<String> {
        self.alipay_key
            .as_ref()
            .map(|k| {
                k.rsa_public_keys()
                    .iter()
                    .map(|k| k.fingerprint())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The sign types accepted on notifications and results (`acceptSignTypes`; by default
    /// the configured `signType` alone).
    #[napi(getter, ts_return_type = "SignType[]")]
    pub fn accept_sign_types(&self) -> Vec<&'static str> {
        self.alipay_key
            .as_ref()
            .map(|k| k.accepted().iter().map(|t| t.as_str()).collect())
            .unwrap_or_default()
    }
}

impl AlipayHK {
    fn alipay_key(&self, what: &str) -> Outcome<Arc<VerifyKey>> {
        self.alipay_key.clone().ok_or_else(|| {
            Error::key(format!(
                "{what} needs Alipay's public key: pass alipayPublicKey (from Alipay's merchant portal) to new AlipayHK()"
            ))
            .into()
        })
    }

    fn order_params(
        &self,
        env: &Env,
        order: &Unknown<'_>,
        options: Option<&Unknown<'_>>,
    ) -> Outcome<OrderParams> {
        let options = options_of(options)?;
        let object = object_arg(
            order,
            "order",
            "{ outTradeNo, subject, totalFee, notifyUrl, … }",
        )?;
        reject_unknown(env, &object, ORDER_FIELDS, "order")?;
        let field = |name: &str| -> Outcome<_> {
            Ok(param_value_of(&crate::convert::own_field(&object, name)?)?)
        };
        let extra: Unknown = crate::convert::own_field(&object, "extra")?;
        let typed = Order {
            out_trade_no: field("outTradeNo")?,
            subject: field("subject")?,
            body: field("body")?,
            total_fee: field("totalFee")?,
            currency: field("currency")?,
            notify_url: field("notifyUrl")?,
            return_url: field("returnUrl")?,
            timeout: field("timeout")?,
            payment_inst: field("paymentInst")?,
            extra: if is_nullish(&extra)? {
                Vec::new()
            } else {
                params_of(env, &extra)?
            },
        };
        Ok(OrderParams::new(
            merchant::order_params(&self.merchant, &typed),
            &options,
        )?)
    }
}
