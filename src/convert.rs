//! JavaScript values in, core types out. No protocol rules here: only shapes and types.
//!
//! Why it is long: every way a value is read from JavaScript is here once (strings through a
//! stack buffer without a length query, lone surrogates, byte views of Buffers and typed
//! arrays, `describe` for messages), so no other file calls napi for a value's text.

use crate::js_error::Outcome;
use crate::keys::KeyBytes;
use alipayhk_pay_core::limits::MAX_MESSAGE_BYTES;
use alipayhk_pay_core::Error;
use napi::bindgen_prelude::*;
use napi::{JsString, JsValue};
use std::ptr;
use zeroize::Zeroizing;

/// What `typeof`-like name a value has, for messages.
pub fn describe(value: &Unknown<'_>) -> Result<&'static str> {
    Ok(match value.get_type()? {
        ValueType::Undefined => "undefined",
        ValueType::Null => "null",
        ValueType::Boolean => "a boolean",
        ValueType::Number => "a number",
        ValueType::String => "a string",
        ValueType::Symbol => "a symbol",
        ValueType::BigInt => "a bigint",
        ValueType::Function => "a function",
        ValueType::External => "an external value",
        ValueType::Object => {
            // napi_is_buffer is true for any ArrayBufferView on newer Node versions, so the
            // DataView and typed-array checks come first.
            if value.is_array()? {
                "an array"
            } else if value.is_dataview()? {
                "a DataView"
            } else if value.is_typedarray()? && !is_uint8_array(value)? {
                "a typed array"
            } else if value.is_buffer()? {
                "a Buffer"
            } else if value.is_arraybuffer()? {
                "an ArrayBuffer"
            } else if value.is_promise()? {
                "a Promise"
            } else {
                "an object"
            }
        }
        _ => "a value of unknown type",
    })
}

/// A typed array whose elements are bytes (`Uint8Array`, and so `Buffer`).
fn is_uint8_array(value: &Unknown<'_>) -> Result<bool> {
    if !value.is_typedarray()? {
        return Ok(false);
    }
    let mut kind = 0;
    let mut length = 0;
    let mut data = ptr::null_mut();
    let mut buffer = ptr::null_mut();
    let mut offset = 0;
    check_status!(unsafe {
        sys::napi_get_typedarray_info(
            value.value().env,
            value.raw(),
            &mut kind,
            &mut length,
            &mut data,
            &mut buffer,
            &mut offset,
        )
    })?;
    Ok(kind == sys::TypedarrayType::uint8_array)
}

/// `Object.prototype.toString.call(value)` (`"[object Map]"`, `"[object AbortSignal]"`, …):
/// the class of an object in any realm. `""` if `Object.prototype.toString` was replaced.
pub fn class_tag(env: &Env, value: &Unknown<'_>) -> Result<String> {
    let global = env.get_global()?;
    let object_ctor: Unknown = global.get_named_property("Object")?;
    if object_ctor.get_type()? != ValueType::Function {
        return Ok(String::new());
    }
    let object_ctor: Object = unsafe { object_ctor.cast()? };
    let proto: Unknown = object_ctor.get_named_property("prototype")?;
    if proto.get_type()? != ValueType::Object {
        return Ok(String::new());
    }
    let proto: Object = unsafe { proto.cast()? };
    let to_string: Unknown = proto.get_named_property("toString")?;
    if to_string.get_type()? != ValueType::Function {
        return Ok(String::new());
    }
    let mut tag = ptr::null_mut();
    check_status!(unsafe {
        sys::napi_call_function(
            env.raw(),
            value.raw(),
            to_string.raw(),
            0,
            ptr::null(),
            &mut tag,
        )
    })?;
    let tag = unsafe { Unknown::from_raw_unchecked(env.raw(), tag) };
    let tag = match tag.get_type()? {
        ValueType::String => string_of(&tag)?.unwrap_or_default(),
        _ => String::new(),
    };
    Ok(tag)
}

/// What an object is when it keeps its data somewhere other than own enumerable properties
/// (a Promise someone forgot to await, a Map, an ArrayBuffer, …), so that read as a record
/// it would be silently empty; `None` for anything else. Asked only of objects that have no
/// own enumerable keys. Uses `Object.prototype.toString`, which works across realms (a Map
/// made in a `vm` context is not `instanceof` this realm's Map).
pub fn not_a_record(env: &Env, value: &Unknown<'_>) -> Result<Option<&'static str>> {
    if value.get_type()? != ValueType::Object {
        return Ok(None);
    }
    if value.is_promise()? {
        return Ok(Some("a Promise (missing `await`?)"));
    }
    if value.is_arraybuffer()? || value.is_dataview()? || value.is_typedarray()? {
        return describe(value).map(Some);
    }
    let tag = class_tag(env, value)?;
    Ok(match tag.as_str() {
        "[object Map]" => Some("a Map"),
        "[object Set]" => Some("a Set"),
        "[object WeakMap]" => Some("a WeakMap"),
        "[object WeakSet]" => Some("a WeakSet"),
        "[object URLSearchParams]" => Some("a URLSearchParams"),
        _ => None,
    })
}

/// `object[name]` when `name` is an own property of `object`, else `undefined`. Options,
/// keys, configs and orders are read this way, like params: a field is never taken from a
/// prototype, so a polluted `Object.prototype.md5Key` cannot become a verification key when
/// the caller's own `alipayPublicKey` is missing.
pub fn own_field<'env>(object: &Object<'env>, name: &str) -> Result<Unknown<'env>> {
    let raw_env = object.value().env;
    let mut key = ptr::null_mut();
    check_status!(unsafe {
        sys::napi_create_string_utf8(raw_env, name.as_ptr().cast(), name.len() as isize, &mut key)
    })?;
    let mut own = false;
    check_status!(unsafe { sys::napi_has_own_property(raw_env, object.raw(), key, &mut own) })?;
    let mut value = ptr::null_mut();
    if own {
        check_status!(unsafe { sys::napi_get_property(raw_env, object.raw(), key, &mut value) })?;
    } else {
        check_status!(unsafe { sys::napi_get_undefined(raw_env, &mut value) })?;
    }
    Ok(unsafe { Unknown::from_raw_unchecked(raw_env, value) })
}

pub fn is_nullish(value: &Unknown<'_>) -> Result<bool> {
    Ok(matches!(
        value.get_type()?,
        ValueType::Undefined | ValueType::Null
    ))
}

/// The length of a JS string in UTF-16 code units, without copying it.
pub fn js_len(value: &Unknown<'_>) -> Result<usize> {
    let js: JsString = unsafe { value.cast()? };
    js.utf16_len()
}

/// The length of a JS array (the caller has checked `is_array`).
pub fn array_len(value: &Unknown<'_>) -> Result<usize> {
    let array: Array = unsafe { value.cast()? };
    Ok(array.len() as usize)
}

/// Refuses a string or byte argument longer than `max` before it is copied.
pub fn check_len(len: usize, max: usize, field: &str) -> Outcome<()> {
    if len > max {
        return Err(Error::argument(
            field,
            format!("{field} is {len} long; at most {max} characters (or bytes) are accepted"),
        )
        .into());
    }
    Ok(())
}

/// A JS string as Rust text; `None` when it holds a lone surrogate (it has no UTF-8 form,
/// and napi's UTF-8 conversion would silently replace it).
pub fn string_of(value: &Unknown<'_>) -> Result<Option<String>> {
    Ok(match text_of(value, usize::MAX)? {
        Text::Ok(s) => Some(s),
        // (TooLong cannot come back without a limit.)
        Text::LoneSurrogate | Text::TooLong(_) => None,
    })
}

/// A JS string that holds key material, read straight into the heap buffer that becomes
/// the returned text (no copy left in a stack buffer); its owner wipes it ([`KeyBytes`]).
/// `None` when it holds a lone surrogate.
pub fn secret_string_of(value: &Unknown<'_>) -> Result<Option<KeyBytes>> {
    let text = KeyBytes::Text(Zeroizing::new(utf8_long(value)?));
    Ok(match replaced_surrogates(value, text.as_str())? {
        None => Some(text),
        Some(Text::Ok(s)) => Some(KeyBytes::Text(Zeroizing::new(s))),
        Some(_) => None,
    })
}

/// What a JS string holds, as read by [`text_of`].
pub enum Text {
    Ok(String),
    /// It holds a lone UTF-16 surrogate, which has no UTF-8 form.
    LoneSurrogate,
    /// Longer than the limit (its length in UTF-16 units); it was not copied.
    TooLong(usize),
}

/// A JS string of at most `max_units` UTF-16 units, read with as few napi calls as possible:
/// short strings (nearly all of them) in one call into a stack buffer, with no length query.
pub fn text_of(value: &Unknown<'_>, max_units: usize) -> Result<Text> {
    match text_if_string(value, max_units)? {
        Some(text) => Ok(text),
        None => Err(napi::Error::new(
            Status::StringExpected,
            "a string was expected",
        )),
    }
}

/// [`text_of`] for a value that may not be a string (`None` then): the read itself tells,
/// so a string costs no separate `typeof`.
pub fn text_if_string(value: &Unknown<'_>, max_units: usize) -> Result<Option<Text>> {
    let text = match utf8_short(value)? {
        Short::NotString => return Ok(None),
        // A UTF-16 string has no more units than its UTF-8 form has bytes.
        Short::Fits(short) if short.len() <= max_units => short,
        Short::Fits(_) | Short::TooBig => {
            let n = js_len(value)?;
            if n > max_units {
                return Ok(Some(Text::TooLong(n)));
            }
            utf8_long(value)?
        }
    };
    Ok(Some(
        replaced_surrogates(value, &text)?.unwrap_or(Text::Ok(text)),
    ))
}

/// napi's UTF-8 conversion writes U+FFFD for a lone surrogate. Only when one shows up in
/// `text` is the string read again as UTF-16, to tell a real U+FFFD from a replaced
/// surrogate: `None` when `text` stands as it is.
fn replaced_surrogates(value: &Unknown<'_>, text: &str) -> Result<Option<Text>> {
    if !text.contains('\u{FFFD}') {
        return Ok(None);
    }
    let js: JsString = unsafe { value.cast()? };
    let utf16 = js.into_utf16()?;
    let units = utf16
        .as_slice()
        .split_last()
        .map_or(&[][..], |(_, rest)| rest);
    Ok(Some(match String::from_utf16(units) {
        Ok(s) => Text::Ok(s),
        Err(_) => Text::LoneSurrogate,
    }))
}

const STACK: usize = 512;

enum Short {
    NotString,
    Fits(String),
    TooBig,
}

/// A JS string's UTF-8 (lone surrogates as U+FFFD) if it fits in a stack buffer, in one
/// call.
fn utf8_short(value: &Unknown<'_>) -> Result<Short> {
    let env = value.value().env;
    // Not zeroed: napi writes the first `written` bytes, and only those are read.
    let mut buf = std::mem::MaybeUninit::<[u8; STACK]>::uninit();
    let mut written = 0usize;
    let status = unsafe {
        sys::napi_get_value_string_utf8(
            env,
            value.raw(),
            buf.as_mut_ptr().cast(),
            STACK,
            &mut written,
        )
    };
    if status == sys::Status::napi_string_expected {
        return Ok(Short::NotString);
    }
    check_status!(status)?;
    // V8 never splits a character, so a write that stopped more than one UTF-8 character
    // (4 bytes) short of the buffer's end holds the whole string.
    if written >= STACK - 1 - 4 {
        return Ok(Short::TooBig);
    }
    let bytes = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), written) };
    String::from_utf8(bytes.to_vec())
        .map(Short::Fits)
        .map_err(|_| napi::Error::from_reason("a JS string did not convert to UTF-8"))
}

/// A JS string's UTF-8 (lone surrogates as U+FFFD), any length.
fn utf8_long(value: &Unknown<'_>) -> Result<String> {
    let env = value.value().env;
    let mut len = 0usize;
    check_status!(unsafe {
        sys::napi_get_value_string_utf8(env, value.raw(), ptr::null_mut(), 0, &mut len)
    })?;
    let mut long = vec![0u8; len + 1];
    let mut written = 0usize;
    check_status!(unsafe {
        sys::napi_get_value_string_utf8(
            env,
            value.raw(),
            long.as_mut_ptr().cast(),
            len + 1,
            &mut written,
        )
    })?;
    long.truncate(written);
    String::from_utf8(long)
        .map_err(|_| napi::Error::from_reason("a JS string did not convert to UTF-8"))
}

/// The bytes of a Buffer, a Uint8Array or an ArrayBuffer, borrowed from the JS value (so
/// that a size can be checked before anything is copied); `None` for any other value.
pub fn byte_view<'a>(value: &'a Unknown<'_>) -> Result<Option<&'a [u8]>> {
    if value.get_type()? != ValueType::Object {
        return Ok(None);
    }
    let env = value.value().env;
    let mut data: *mut std::ffi::c_void = ptr::null_mut();
    let mut length = 0usize;
    // napi_is_buffer is true for any ArrayBufferView on newer Node versions (a DataView, a
    // Uint16Array, …), so the element type is checked before it.
    if value.is_dataview()? {
        return Ok(None);
    } else if value.is_typedarray()? {
        if !is_uint8_array(value)? {
            return Ok(None);
        }
        let mut kind = 0;
        let mut buffer = ptr::null_mut();
        let mut offset = 0;
        check_status!(unsafe {
            sys::napi_get_typedarray_info(
                env,
                value.raw(),
                &mut kind,
                &mut length,
                &mut data,
                &mut buffer,
                &mut offset,
            )
        })?;
    } else if value.is_buffer()? {
        check_status!(unsafe {
            sys::napi_get_buffer_info(env, value.raw(), &mut data, &mut length)
        })?;
    } else if value.is_arraybuffer()? {
        check_status!(unsafe {
            sys::napi_get_arraybuffer_info(env, value.raw(), &mut data, &mut length)
        })?;
    } else {
        return Ok(None);
    }
    if length == 0 || data.is_null() {
        return Ok(Some(&[]));
    }
    // The value outlives the borrow, and nothing runs JavaScript (which could detach the
    // buffer) while the slice is held.
    Ok(Some(unsafe {
        std::slice::from_raw_parts(data as *const u8, length)
    }))
}

/// Text handed back to JavaScript. ASCII (an MD5 order in English, every signature) is made
/// a one-byte string by a straight copy; other text is given as UTF-16, which V8 copies
/// as is, instead of as UTF-8, which V8 scans twice to decode.
pub struct JsText(pub String);

impl TypeName for JsText {
    fn type_name() -> &'static str {
        "String"
    }

    fn value_type() -> ValueType {
        ValueType::String
    }
}

impl ToNapiValue for JsText {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        let text = val.0;
        let mut out = ptr::null_mut();
        if text.is_ascii() {
            check_status!(unsafe {
                sys::napi_create_string_latin1(
                    env,
                    text.as_ptr().cast(),
                    text.len() as isize,
                    &mut out,
                )
            })?;
        } else {
            // A UTF-8 text has at least as many bytes as its UTF-16 form has units.
            let mut units: Vec<u16> = Vec::with_capacity(text.len());
            units.extend(text.encode_utf16());
            check_status!(unsafe {
                sys::napi_create_string_utf16(env, units.as_ptr(), units.len() as isize, &mut out)
            })?;
        }
        Ok(out)
    }
}

pub fn text_arg(value: &Unknown<'_>, field: &str) -> Outcome<String> {
    if value.get_type()? == ValueType::String {
        check_len(js_len(value)?, MAX_MESSAGE_BYTES, field)?;
    }
    if value.get_type()? != ValueType::String {
        return Err(Error::argument(
            field,
            format!("{field} must be a string; got {}", describe(value)?),
        )
        .into());
    }
    Ok(string_of(value)?.ok_or_else(|| {
        Error::argument(
            field,
            format!("{field} holds a lone UTF-16 surrogate, which has no UTF-8 form"),
        )
    })?)
}

/// Refuses a class constructor called without `new` (`OrderSigner(key)`): napi-rs would
/// otherwise wrap whatever `this` is (the global object, the module's exports) and keep the
/// key on it for the life of the process.
pub(crate) fn require_new<T: JavaScriptClassExt>(
    env: &Env,
    this: &Unknown<'_>,
    class: &str,
    usage: &str,
) -> Outcome<()> {
    if this.get_type()? != ValueType::Object || !T::instance_of(env, this)? {
        return Err(
            Error::argument(class, format!("{class} is a class: call it with `{usage}`")).into(),
        );
    }
    Ok(())
}
