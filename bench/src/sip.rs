//! The SIP text of a plain UAC over UDP (RFC 3261): INVITE with an SDP offer (PCMU and
//! telephone-event), ACK, BYE, a 200 OK to the server's own requests, and a small parser of
//! what comes back. Just what the load caller needs; no general SIP stack.

use std::net::{IpAddr, SocketAddr};

/// One caller's dialog, as far as the caller writes it.
#[derive(Debug, Clone)]
pub struct Dialog {
    /// The request URI of the INVITE (`sip:NUMBER@TARGET`).
    pub uri: String,
    pub call_id: String,
    pub from_tag: String,
    pub from_user: String,
    /// The To tag of the 200 OK (empty before it).
    pub to_tag: String,
    /// Where in-dialog requests go: the 200 OK's Contact, else the request URI.
    pub remote_target: String,
    /// The caller's SIP address (Via, Contact).
    pub local: SocketAddr,
    pub invite_branch: String,
}

/// A new branch parameter (RFC 3261 magic cookie).
pub fn branch() -> String {
    format!("z9hG4bK{:016x}", fastrand::u64(..))
}

impl Dialog {
    pub fn new(number: &str, target: SocketAddr, local: SocketAddr, from_user: &str) -> Dialog {
        let uri = format!("sip:{number}@{target}");
        Dialog {
            remote_target: uri.clone(),
            uri,
            call_id: format!("{:016x}@load-caller", fastrand::u64(..)),
            from_tag: format!("{:08x}", fastrand::u32(..)),
            from_user: from_user.to_owned(),
            to_tag: String::new(),
            local,
            invite_branch: branch(),
        }
    }

    fn callee_field(&self) -> String {
        if self.to_tag.is_empty() {
            format!("<{}>", self.uri)
        } else {
            format!("<{}>;tag={}", self.uri, self.to_tag)
        }
    }

    fn caller_field(&self) -> String {
        format!(
            "<sip:{}@{}>;tag={}",
            self.from_user,
            self.local.ip(),
            self.from_tag
        )
    }

    /// The caller's SDP: PCMU and telephone-event (101) at `rtp`.
    pub fn sdp(rtp: SocketAddr, session: u64) -> String {
        let ip = rtp.ip();
        let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
        format!(
            "v=0\r\no=load-caller {session} 1 IN {family} {ip}\r\ns=-\r\nc=IN {family} {ip}\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
             a=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n",
            port = rtp.port()
        )
    }

    /// The Contact of this side.
    pub fn contact(&self) -> String {
        format!("<sip:{}@{}>", self.from_user, self.local)
    }

    /// The INVITE, offering PCMU and telephone-event (101) at `rtp`.
    pub fn invite(&self, rtp: SocketAddr, session: u64) -> String {
        let body = Dialog::sdp(rtp, session);
        format!(
            "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch};rport\r\nMax-Forwards: 70\r\n\
             From: {from}\r\nTo: <{uri}>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\n\
             Contact: <sip:{user}@{local}>\r\nContent-Type: application/sdp\r\n\
             User-Agent: centralino-load-caller\r\nContent-Length: {len}\r\n\r\n{body}",
            uri = self.uri,
            local = self.local,
            branch = self.invite_branch,
            from = self.caller_field(),
            call_id = self.call_id,
            user = self.from_user,
            len = body.len(),
        )
    }

    /// ACK of a 2xx (a new transaction to the remote target) or of a non-2xx final response
    /// (same branch as the INVITE, RFC 3261 §17.1.1.3).
    pub fn ack(&self, for_2xx: bool) -> String {
        let (uri, branch) = if for_2xx {
            (self.remote_target.clone(), branch())
        } else {
            (self.uri.clone(), self.invite_branch.clone())
        };
        format!(
            "ACK {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch};rport\r\nMax-Forwards: 70\r\n\
             From: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
            local = self.local,
            from = self.caller_field(),
            to = self.callee_field(),
            call_id = self.call_id,
        )
    }

    /// BYE (CSeq 2) with the given branch (kept for retransmissions).
    pub fn bye(&self, branch: &str) -> String {
        format!(
            "BYE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch};rport\r\nMax-Forwards: 70\r\n\
             From: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
            uri = self.remote_target,
            local = self.local,
            from = self.caller_field(),
            to = self.callee_field(),
            call_id = self.call_id,
        )
    }
}

/// A parsed message: what the caller looks at.
#[derive(Debug, Clone, Default)]
pub struct Message {
    /// Status code of a response; 0 for a request.
    pub status: u16,
    /// Method of a request (empty for a response).
    pub method: String,
    /// The request URI of a request (empty for a response).
    pub request_uri: String,
    pub call_id: String,
    /// The CSeq number (0 when unreadable).
    pub cseq: u32,
    pub cseq_method: String,
    pub to_tag: String,
    /// Every `WWW-Authenticate` value (a 401's challenges).
    pub www_authenticate: Vec<String>,
    /// The Contact URI (without angle brackets or parameters).
    pub contact: Option<String>,
    /// Header lines to copy into a response: every Via, From, To, Call-ID, CSeq.
    pub reply_headers: Vec<String>,
    pub body: String,
}

fn header_name(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    match lower.as_str() {
        "i" => "call-id".into(),
        "t" => "to".into(),
        "f" => "from".into(),
        "m" => "contact".into(),
        "v" => "via".into(),
        "l" => "content-length".into(),
        _ => lower,
    }
}

impl Message {
    pub fn parse(text: &str) -> Option<Message> {
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
        let mut lines = head.split("\r\n");
        let first = lines.next()?;
        let mut message = Message {
            body: body.to_owned(),
            ..Message::default()
        };
        if let Some(rest) = first.strip_prefix("SIP/2.0 ") {
            message.status = rest.get(..3)?.parse().ok()?;
        } else {
            let mut words = first.split_whitespace();
            message.method = words.next()?.to_owned();
            message.request_uri = words.next().unwrap_or("").to_owned();
        }
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let name = header_name(name);
            let value = value.trim();
            match name.as_str() {
                "call-id" => message.call_id = value.to_owned(),
                "cseq" => {
                    message.cseq = value
                        .split_whitespace()
                        .next()
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0);
                    message.cseq_method = value.split_whitespace().nth(1).unwrap_or("").to_owned();
                }
                "www-authenticate" => message.www_authenticate.push(value.to_owned()),
                "to" => {
                    message.to_tag = param(value, "tag").unwrap_or_default();
                }
                "contact" => {
                    let uri = match (value.find('<'), value.find('>')) {
                        (Some(a), Some(b)) if a < b => value.get(a + 1..b),
                        _ => value.split(';').next(),
                    };
                    message.contact = uri.map(str::to_owned);
                }
                _ => {}
            }
            if matches!(name.as_str(), "via" | "from" | "to" | "call-id" | "cseq") {
                message.reply_headers.push(line.to_owned());
            }
        }
        Some(message)
    }

    /// The RTP address of an SDP answer (`c=` and the audio `m=` port).
    pub fn sdp_audio(&self) -> Option<SocketAddr> {
        let mut ip: Option<IpAddr> = None;
        let mut port: Option<u16> = None;
        for line in self.body.lines() {
            let line = line.trim();
            if let Some(c) = line.strip_prefix("c=IN ") {
                ip = c.split_whitespace().nth(1).and_then(|a| a.parse().ok());
            } else if let Some(m) = line.strip_prefix("m=audio ") {
                port = m.split_whitespace().next().and_then(|p| p.parse().ok());
            }
        }
        Some(SocketAddr::new(ip?, port?))
    }

    /// A response to this request, with its Via, From, To, Call-ID and CSeq.
    pub fn response(&self, status: &str) -> String {
        let mut out = format!("SIP/2.0 {status}\r\n");
        for h in &self.reply_headers {
            out.push_str(h);
            out.push_str("\r\n");
        }
        out.push_str("Content-Length: 0\r\n\r\n");
        out
    }

    /// The value of the first reply header (Via, From, To, Call-ID, CSeq) named `name`
    /// (compact forms too).
    fn reply_header(&self, name: &str) -> Option<&str> {
        self.reply_headers.iter().find_map(|line| {
            let (n, value) = line.split_once(':')?;
            (header_name(n) == name).then_some(value.trim())
        })
    }

    /// The BYE by which the side that answered this INVITE ends the call (RFC 3261 §15): sent
    /// to the INVITE's Contact, From its To with `to_tag` (the tag of the 200 OK), To its From,
    /// a new `branch` and `cseq` from the answering side's own sequence. `None` when the INVITE
    /// had no Contact, From or To.
    pub fn callee_bye(
        &self,
        to_tag: &str,
        local: SocketAddr,
        branch: &str,
        cseq: u32,
    ) -> Option<String> {
        let target = self.contact.as_deref()?;
        let from = self.reply_header("from")?;
        let to = self.reply_header("to")?;
        let local_side = if self.to_tag.is_empty() {
            format!("{to};tag={to_tag}")
        } else {
            to.to_owned()
        };
        Some(format!(
            "BYE {target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch};rport\r\n\
             Max-Forwards: 70\r\nFrom: {local_side}\r\nTo: {from}\r\nCall-ID: {call_id}\r\n\
             CSeq: {cseq} BYE\r\nContent-Length: 0\r\n\r\n",
            call_id = self.call_id,
        ))
    }

    /// A response to this request (a re-INVITE) with `contact` and an SDP body.
    pub fn response_with_sdp(&self, status: &str, contact: &str, sdp: &str) -> String {
        let mut out = format!("SIP/2.0 {status}\r\n");
        for h in &self.reply_headers {
            out.push_str(h);
            out.push_str("\r\n");
        }
        out.push_str(&format!(
            "Contact: {contact}\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        ));
        out
    }
}

fn param(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case(name)).then(|| v.trim().to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_200_with_sdp() {
        let text = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5000;branch=z9hG4bKx\r\n\
            From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:100@127.0.0.1:5060>;tag=abc\r\n\
            Call-ID: x@y\r\nCSeq: 1 INVITE\r\nContact: <sip:100@127.0.0.1:5060;transport=udp>\r\n\
            Content-Length: 60\r\n\r\nv=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 20002 RTP/AVP 0\r\n";
        let m = Message::parse(text).expect("parses");
        assert_eq!(m.status, 200);
        assert_eq!(m.to_tag, "abc");
        assert_eq!(m.cseq_method, "INVITE");
        assert_eq!(
            m.contact.as_deref(),
            Some("sip:100@127.0.0.1:5060;transport=udp")
        );
        assert_eq!(
            m.sdp_audio(),
            Some(SocketAddr::from(([127, 0, 0, 1], 20002)))
        );
    }

    #[test]
    fn the_answering_side_ends_the_call_with_a_bye_to_the_contact() {
        let text = "INVITE sip:0755000001@127.0.0.1:5064 SIP/2.0\r\n\
            Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKi\r\n\
            f: \"Comune\" <sip:075075075@127.0.0.1>;tag=srv\r\nTo: <sip:0755000001@127.0.0.1:5064>\r\n\
            Call-ID: c1@centralino\r\nCSeq: 7 INVITE\r\nContact: <sip:centralino@127.0.0.1:5060>\r\n\r\n";
        let invite = Message::parse(text).expect("parses");
        let local = SocketAddr::from(([127, 0, 0, 1], 5064));
        let bye = invite
            .callee_bye("gw1", local, "z9hG4bKb", 1)
            .expect("a BYE");
        let parsed = Message::parse(&bye).expect("the BYE parses");
        assert_eq!(parsed.method, "BYE");
        assert_eq!(parsed.request_uri, "sip:centralino@127.0.0.1:5060");
        assert_eq!(parsed.call_id, "c1@centralino");
        assert_eq!((parsed.cseq, parsed.cseq_method.as_str()), (1, "BYE"));
        // Our side (From) carries our tag; the server's side (To) keeps the server's.
        assert!(bye.contains("\r\nFrom: <sip:0755000001@127.0.0.1:5064>;tag=gw1\r\n"));
        assert_eq!(parsed.to_tag, "srv");
        let no_contact =
            Message::parse(&text.replace("Contact: <sip:centralino@127.0.0.1:5060>\r\n", ""))
                .expect("parses");
        assert_eq!(no_contact.callee_bye("gw1", local, "z9hG4bKb", 1), None);
    }

    #[test]
    fn answers_a_bye() {
        let text = "BYE sip:a@127.0.0.1:5000 SIP/2.0\r\nv: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKy\r\n\
            f: <sip:100@x>;tag=abc\r\nt: <sip:a@y>;tag=1\r\ni: x@y\r\nCSeq: 5 BYE\r\n\r\n";
        let m = Message::parse(text).expect("parses");
        assert_eq!(m.method, "BYE");
        assert_eq!(m.call_id, "x@y");
        assert_eq!(m.request_uri, "sip:a@127.0.0.1:5000");
        assert_eq!(m.cseq, 5);
        let r = m.response("200 OK");
        assert!(r.starts_with("SIP/2.0 200 OK\r\nv: SIP/2.0/UDP"));
        assert!(r.contains("CSeq: 5 BYE\r\n"));
    }
}
