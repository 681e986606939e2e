//! The XML envelope of a gateway reply (protocol §8.2):
//!
//! ```text
//! <alipay>
//!   <is_success>T|F</is_success>
//!   <error>CODE</error>                                    (when F)
//!   <request><param name="…">…</param>…</request>           (echo, when T; not signed)
//!   <response><trade>…one element per field…</trade></response>
//!   <sign>…</sign><sign_type>MD5|RSA|RSA2</sign_type>
//! </alipay>
//! ```
//!
//! Read with quick-xml, a pull parser, into a small tree with limits: at most
//! `limits::MAX_REPLY_BYTES` bytes, `MAX_REPLY_DEPTH` levels and `MAX_REPLY_ELEMENTS`
//! elements. A DTD (`<!DOCTYPE …>`) is refused outright and no entity but the five of XML
//! and character references is read, so nothing expands. Whitespace between elements is
//! ignored; a leaf's text is kept exactly (after XML's end-of-line normalisation), so
//! masked values such as `for***@alitest.com` stay as they are. Any element given twice
//! where the envelope has one (a field, `is_success`, `sign`, …) is refused.
//!
//! `<response>` holds the signed fields. protocol §8.2 documents one element inside it
//! (`<trade>` for `single_trade_query`) whose children are the fields; no reply sample of
//! `alipay.acquire.refund.query` is published (protocol §8.5), so the fields are also taken
//! when they sit directly in `<response>` (every child a leaf). Anything else there (two
//! records, a field holding elements) is refused.

use super::decode::decode_reply;
use super::short;
use crate::error::{Error, Result};
use crate::limits::{MAX_REPLY_DEPTH, MAX_REPLY_ELEMENTS};
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::QName;
use quick_xml::reader::Reader;
use quick_xml::XmlVersion;

/// A parsed reply envelope. Nothing here is checked against a signature yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// `is_success`: `T` is true, `F` false.
    pub is_success: bool,
    /// `<error>`, when present (with `is_success=F`).
    pub error: Option<String>,
    /// The echo of the request: `<param name="…">` pairs, in order. Not signed.
    pub request: Vec<(String, String)>,
    /// `<response>`, when present: the signed section.
    pub response: Option<ResponseSection>,
    /// `<sign>`, as written.
    pub sign: Option<String>,
    /// `<sign_type>`, as written.
    pub sign_type: Option<String>,
    /// The encoding the reply was read in (`UTF-8`, `GBK`, …).
    pub encoding: &'static str,
}

/// What `<response>` holds: the fields the signature covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseSection {
    /// The element around the fields (`trade` for `single_trade_query`); `None` when the
    /// fields sit directly in `<response>`.
    pub element: Option<String>,
    /// The fields, as (name, text) in document order; names are unique.
    pub fields: Vec<(String, String)>,
}

impl Reply {
    /// A field of `<response>`, empty values read as absent.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.response.as_ref().and_then(|r| {
            r.fields
                .iter()
                .find(|(k, v)| k == name && !v.is_empty())
                .map(|(_, v)| v.as_str())
        })
    }
}

/// An element of the tree: its name, the `name` attribute (for `<param>`), its text (leaves
/// only) and its children.
#[derive(Debug, Default)]
struct Node {
    name: String,
    name_attr: Option<String>,
    text: String,
    children: Vec<Node>,
}

fn malformed(message: impl Into<String>) -> Error {
    Error::malformed_reply(message)
}

/// Parses a reply's bytes into the envelope. Every failure is `ERR_ALIPAYHK_MALFORMED_REPLY`.
pub fn parse_reply(body: &[u8]) -> Result<Reply> {
    let decoded = decode_reply(body)?;
    let root = parse_tree(&decoded.text)?;
    envelope(root, decoded.encoding)
}

fn name_of(q: QName<'_>) -> String {
    q.into_inner().to_owned()
}

fn open(e: &BytesStart<'_>) -> Result<Node> {
    let name = name_of(e.name());
    let mut name_attr = None;
    for attr in e.attributes() {
        let attr = attr.map_err(|err| {
            malformed(format!(
                "an attribute of <{name}> is not well-formed: {err}"
            ))
        })?;
        if attr.key.into_inner() == "name" {
            let value = attr
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|err| malformed(format!("the name attribute of <{name}>: {err}")))?;
            name_attr = Some(value.into_owned());
        }
    }
    Ok(Node {
        name,
        name_attr,
        ..Node::default()
    })
}

/// The whole document as a tree, with the limits of the module documentation.
fn parse_tree(text: &str) -> Result<Node> {
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.expand_empty_elements = false;
    config.trim_text(false);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let mut elements = 0usize;
    let mut first = true;
    loop {
        let event = reader.read_event().map_err(|e| {
            let at = reader.error_position();
            let ends = at as usize >= text.len().saturating_sub(1);
            malformed(if ends {
                format!("the XML ends early (truncated reply?): {e}")
            } else {
                format!("the reply is not well-formed XML at byte {at}: {e}")
            })
        })?;
        // Whitespace before the declaration is tolerated (a proxy's stray line break).
        let blank = matches!(&event, Event::Text(t) if t.chars().all(is_xml_space));
        let was_first = first;
        if !blank {
            first = false;
        }
        match event {
            Event::Decl(_) if was_first => {}
            Event::Decl(_) => return Err(malformed("an XML declaration that is not at the start")),
            Event::DocType(_) => {
                return Err(malformed(
                    "the reply has a DTD (<!DOCTYPE …>); Alipay's replies have none, and DTDs and the entities they declare are never read",
                ))
            }
            Event::PI(_) | Event::Comment(_) => {}
            Event::Start(e) | Event::Empty(e)
                if root.is_some() && stack.is_empty() =>
            {
                return Err(malformed(format!(
                    "a second root element <{}> after </{}>",
                    e.name().into_inner(),
                    root.as_ref().map(|r| r.name.as_str()).unwrap_or("")
                )));
            }
            Event::Start(e) => {
                elements += 1;
                if stack.len() >= MAX_REPLY_DEPTH {
                    return Err(malformed(format!(
                        "elements are nested more than {MAX_REPLY_DEPTH} deep; the envelope is 4 deep"
                    )));
                }
                if elements > MAX_REPLY_ELEMENTS {
                    return Err(too_many());
                }
                stack.push(open(&e)?);
            }
            Event::Empty(e) => {
                elements += 1;
                if elements > MAX_REPLY_ELEMENTS {
                    return Err(too_many());
                }
                let node = open(&e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::End(_) => {
                let mut node = stack.pop().ok_or_else(|| malformed("a closing tag without an opening one"))?;
                if !node.children.is_empty() {
                    if !node.text.trim_matches(is_xml_space).is_empty() {
                        return Err(malformed(format!(
                            "<{}> holds both text and elements",
                            node.name
                        )));
                    }
                    node.text.clear();
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Text(t) => {
                let content = t.xml10_content();
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&content),
                    None if content.chars().all(is_xml_space) => {}
                    None => return Err(malformed(text_outside(&content))),
                }
            }
            Event::CData(t) => {
                let content = t.xml10_content();
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&content),
                    None => return Err(malformed(text_outside(&content))),
                }
            }
            Event::GeneralRef(r) => {
                let Some(top) = stack.last_mut() else {
                    return Err(malformed("an entity reference outside the root element"));
                };
                if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) if is_xml_char(c) => top.text.push(c),
                        _ => {
                            return Err(malformed(format!(
                                "the character reference &{}; is not a character XML allows",
                                short_ref(&r)
                            )))
                        }
                    }
                } else if let Some(s) = resolve_predefined_entity(&r) {
                    top.text.push_str(s);
                } else {
                    return Err(malformed(format!(
                        "the entity &{}; is not one of XML's five (&amp; &lt; &gt; &quot; &apos;); DTD entities are never read",
                        short_ref(&r)
                    )));
                }
            }
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(malformed(format!(
            "the XML ends inside <{}> (truncated reply?)",
            open.name
        )));
    }
    root.ok_or_else(|| malformed("the reply holds no element"))
}

fn short_ref(r: &str) -> String {
    r.chars().take(30).collect()
}

fn too_many() -> Error {
    malformed(format!(
        "the reply has more than {MAX_REPLY_ELEMENTS} elements; a gateway reply has a few dozen"
    ))
}

fn text_outside(content: &str) -> String {
    format!(
        "text outside the root element: {}",
        short(content.trim_matches(is_xml_space))
    )
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// XML 1.0's Char production.
fn is_xml_char(c: char) -> bool {
    matches!(c as u32, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

/// The text of a leaf: an element with children here is refused.
fn leaf_text(node: Node, what: &str) -> Result<String> {
    if !node.children.is_empty() {
        return Err(malformed(format!(
            "{what} <{}> holds elements; it must hold text only",
            node.name
        )));
    }
    Ok(node.text)
}

/// Each name at most once among `nodes`.
fn refuse_duplicates(nodes: &[Node], inside: &str) -> Result<()> {
    for (i, n) in nodes.iter().enumerate() {
        if nodes[..i].iter().any(|m| m.name == n.name) {
            return Err(malformed(format!(
                "<{}> appears more than once in <{inside}>; a reply whose fields repeat is refused (which one would be signed?)",
                n.name
            )));
        }
    }
    Ok(())
}

fn envelope(root: Node, encoding: &'static str) -> Result<Reply> {
    if root.name != "alipay" {
        return Err(malformed(format!(
            "the root element is <{}>, not <alipay>: not a reply of Alipay's gateway",
            root.name.chars().take(40).collect::<String>()
        )));
    }
    refuse_duplicates(&root.children, "alipay")?;
    let mut reply = Reply {
        is_success: false,
        error: None,
        request: Vec::new(),
        response: None,
        sign: None,
        sign_type: None,
        encoding,
    };
    let mut is_success: Option<String> = None;
    for child in root.children {
        match child.name.as_str() {
            "is_success" => is_success = Some(leaf_text(child, "")?),
            "error" => reply.error = Some(leaf_text(child, "")?),
            "sign" => reply.sign = Some(leaf_text(child, "")?),
            "sign_type" => reply.sign_type = Some(leaf_text(child, "")?),
            "request" => reply.request = request_echo(child)?,
            "response" => reply.response = Some(response(child)?),
            // Elements the envelope does not document carry nothing signed; ignored.
            _ => {}
        }
    }
    let is_success = is_success
        .ok_or_else(|| malformed("the reply has no <is_success>; every gateway reply has one"))?;
    reply.is_success = match is_success.trim_matches(is_xml_space) {
        "T" => true,
        "F" => false,
        other => {
            return Err(malformed(format!(
                "is_success is {}; it must be T or F",
                short(other)
            )))
        }
    };
    if let Some(e) = &mut reply.error {
        let trimmed = e.trim_matches(is_xml_space);
        if trimmed.len() != e.len() {
            *e = trimmed.to_owned();
        }
    }
    match (reply.is_success, &reply.error) {
        (false, None) => {
            return Err(malformed(
                "is_success is F but there is no <error> saying why",
            ))
        }
        (false, Some(e)) if e.is_empty() => {
            return Err(malformed("is_success is F and <error> is empty"))
        }
        (true, Some(e)) if !e.is_empty() => {
            return Err(malformed(format!(
                "is_success is T but <error> says {}",
                short(e)
            )))
        }
        _ => {}
    }
    Ok(reply)
}

fn request_echo(node: Node) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(node.children.len());
    for child in node.children {
        let name = match (&child.name[..], &child.name_attr) {
            ("param", Some(n)) => n.clone(),
            (other, _) => other.to_owned(),
        };
        if out.iter().any(|(n, _)| *n == name) {
            return Err(malformed(format!(
                "the request echo names {} more than once",
                short(&name)
            )));
        }
        let text = leaf_text(child, "the request echo's")?;
        out.push((name, text));
    }
    Ok(out)
}

fn response(node: Node) -> Result<ResponseSection> {
    let mut children = node.children;
    let one_record = children.len() == 1 && !children[0].children.is_empty();
    let (element, fields) = if one_record {
        let record = children.pop().unwrap_or_default();
        (Some(record.name), record.children)
    } else if children.iter().all(|c| c.children.is_empty()) {
        (None, children)
    } else {
        return Err(malformed(
            "<response> holds more than one record, or records next to fields; protocol §8.2 has one element of fields inside it",
        ));
    };
    if fields.is_empty() {
        return Err(malformed(
            "<response> holds no field; a signed response has at least one",
        ));
    }
    let inside = element.clone().unwrap_or_else(|| "response".to_owned());
    refuse_duplicates(&fields, &inside)?;
    let fields = fields
        .into_iter()
        .map(|f| {
            let name = f.name.clone();
            leaf_text(f, "the field").map(|t| (name, t))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(ResponseSection { element, fields })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    const SAMPLE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<alipay>
  <is_success>T</is_success>
  <request>
    <param name="_input_charset">utf-8</param>
    <param name="service">single_trade_query</param>
  </request>
  <response>
    <trade>
      <buyer_email>for***@alitest.com</buyer_email>
      <out_trade_no>A&amp;B</out_trade_no>
      <subject><![CDATA[a <b> c]]></subject>
      <trade_status>TRADE_FINISHED</trade_status>
    </trade>
  </response>
  <sign>abc</sign>
  <sign_type>MD5</sign_type>
</alipay>"#;

    #[test]
    fn the_envelope() {
        let r = parse_reply(SAMPLE.as_bytes()).unwrap();
        assert!(r.is_success);
        assert_eq!(r.request.len(), 2);
        let resp = r.response.as_ref().unwrap();
        assert_eq!(resp.element.as_deref(), Some("trade"));
        assert_eq!(
            resp.fields,
            vec![
                ("buyer_email".into(), "for***@alitest.com".into()),
                ("out_trade_no".into(), "A&B".into()),
                ("subject".into(), "a <b> c".into()),
                ("trade_status".into(), "TRADE_FINISHED".into()),
            ]
        );
        assert_eq!(r.sign.as_deref(), Some("abc"));
        assert_eq!(r.field("trade_status"), Some("TRADE_FINISHED"));
    }

    #[test]
    fn whitespace_before_the_declaration() {
        let r = parse_reply(
            b"\r\n  <?xml version=\"1.0\"?>\n<alipay><is_success>T</is_success></alipay>\n",
        )
        .unwrap();
        assert!(r.is_success);
        let e = parse_reply(b"<alipay/><?xml version=\"1.0\"?>").unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::MalformedReply);
    }

    #[test]
    fn fields_directly_in_response() {
        let r = parse_reply(
            b"<alipay><is_success>T</is_success><response><a>1</a><b/></response></alipay>",
        )
        .unwrap();
        let resp = r.response.unwrap();
        assert_eq!(resp.element, None);
        assert_eq!(
            resp.fields,
            vec![("a".into(), "1".into()), ("b".into(), "".into())]
        );
    }

    #[test]
    fn refusals() {
        for bad in [
            "<alipay><is_success>T</is_success><is_success>T</is_success></alipay>",
            "<alipay><is_success>X</is_success></alipay>",
            "<alipay><is_success>F</is_success></alipay>",
            "<alipay><is_success>T</is_success><error>E</error></alipay>",
            "<alipay></alipay>",
            "<root><is_success>T</is_success></root>",
            "<alipay><is_success>T</is_success><response><t><a>1</a><a>1</a></t></response></alipay>",
            "<alipay><is_success>T</is_success><response><t><a>1</a></t><u><a>1</a></u></response></alipay>",
            "<alipay><is_success>T</is_success><response><t><a><b/></a></t></response></alipay>",
            "<alipay><is_success>T</is_success><response/></alipay>",
            "<alipay><is_success>T</is_success>",
            "<alipay><is_success>T</is_succ",
            "<alipay><is_success>T</is_success></alipay><alipay/>",
            "<alipay><is_success>T</is_success></alipay>trailing",
            "<alipay><is_success>&bogus;</is_success></alipay>",
            "<alipay><is_success>&#0;</is_success></alipay>",
            "<alipay>text<is_success>T</is_success></alipay>",
            "<!DOCTYPE alipay [<!ENTITY a \"T\">]><alipay><is_success>&a;</is_success></alipay>",
            "<alipay><is_success>T</wrong></alipay>",
        ] {
            let e = parse_reply(bad.as_bytes()).unwrap_err();
            assert_eq!(e.code, ErrorCode::MalformedReply, "{bad}: {e}");
        }
    }
}
