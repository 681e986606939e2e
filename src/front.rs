//! `AlipayHK`: the front most merchants use. One account's keys parsed once; typed orders
//! in, orderStr out; notifications and tradePay results checked with Alipay's key.

use crate::convert::{
    describe, is_nullish, key_bytes_of, options_of, own_key_names, param_value_of, params_of,
};
use crate::js_error::{run, Outcome};
use crate::signer_of_object;
use crate::verify_api::{
    md5_key_of, notify_body_of, notify_result, text_arg, trade_pay_result, verify_notify_with,
};
use alipayhk_pay_core::merchant::{self, Merchant, Order};
use alipayhk_pay_core::{order_str, Error, OrderParams, RsaPublicKey, SignType, Signer, VerifyKey};
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
}

#[napi]
impl AlipayHK {
    /// Parses and checks the keys. Refuses an `alipayPublicKey` that is the merchant's own
    /// public key (the most common cause of failed verification).
    #[napi(constructor, ts_args_type = "config: AlipayHKConfig")]
    pub fn new(env: Env, this: This<Unknown>, config: Unknown) -> Result<Self> {
        run(&env, || {
            crate::require_new::<AlipayHK>(&env, &this, "AlipayHK", "new AlipayHK(config)")?;
            let object = object_arg(
                &config,
                "config",
                "{ partner, signType, privateKey | md5Key, alipayPublicKey? }",
            )?;
            reject_unknown(&env, &object, CONFIG_FIELDS, "config")?;
            let partner =
                match crate::convert::own_field(&object, "partner")? {
                    p if is_nullish(&p)? => return Err(Error::missing(
                        "partner",
                        "config.partner is required: the 16-digit partner ID starting with 2088",
                    )
                    .into()),
                    p => text_arg(&p, "partner")?,
                };
            if !(partner.len() == 16
                && partner.starts_with("2088")
                && partner.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(Error::invalid(
                    "partner",
                    "config.partner must be 16 digits starting with 2088",
                )
                .into());
            }
            let seller: Unknown = crate::convert::own_field(&object, "sellerId")?;
            let seller_id = if is_nullish(&seller)? {
                None
            } else {
                let id = text_arg(&seller, "sellerId")?;
                if id.is_empty() {
                    return Err(Error::invalid(
                        "sellerId",
                        "config.sellerId is empty; leave it out to use the partner ID as the seller",
                    )
                    .into());
                }
                Some(id)
            };
            let signer = signer_of_object(&object)?;
            let alipay_public: Unknown = crate::convert::own_field(&object, "alipayPublicKey")?;
            let alipay_key = if !is_nullish(&alipay_public)? {
                let bytes = key_bytes_of(&alipay_public, "config.alipayPublicKey")?;
                let key = RsaPublicKey::parse(bytes.input())?;
                if signer.public_key_der() == Some(key.der()) {
                    return Err(Error::key(
                        "config.alipayPublicKey is your own public key (the public half of privateKey). Notifications and results are signed by Alipay: use Alipay's public key from the merchant portal, not the one you uploaded",
                    )
                    .into());
                }
                Some(Arc::new(if signer.sign_type() == SignType::Md5 {
                    let md5: Unknown = crate::convert::own_field(&object, "md5Key")?;
                    VerifyKey::Both(key, md5_key_of(&md5, "config.md5Key")?)
                } else {
                    VerifyKey::Rsa(key)
                }))
            } else if signer.sign_type() == SignType::Md5 {
                let md5: Unknown = crate::convert::own_field(&object, "md5Key")?;
                Some(Arc::new(VerifyKey::Md5(md5_key_of(&md5, "config.md5Key")?)))
            } else {
                None
            };
            Ok(AlipayHK {
                merchant: Merchant { partner, seller_id },
                signer,
                alipay_key,
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
            let signal = crate::tasks::signal_of(env, options.as_ref())?;
            Ok((
                crate::tasks::SignOrderTask::new(self.signer.clone(), params),
                signal,
            ))
        };
        crate::tasks::promise(env, prepare)
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
            let signal = crate::tasks::signal_of(env, options.as_ref())?;
            Ok((crate::tasks::VerifyNotifyTask::new(key, body), signal))
        };
        crate::tasks::promise(env, prepare)
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
            let v = verify_notify_with(body, &key);
            Ok(notify_result(env, &v)?)
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
