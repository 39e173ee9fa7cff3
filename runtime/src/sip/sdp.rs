//! SDP offer/answer for audio calls: G.711 (PCMU, PCMA) and RFC 4733 telephone-events.
//!
//! Parsing and writing use the `sdp` crate; this module only decides what the
//! answer says.

use std::io::Cursor;
use std::net::{IpAddr, SocketAddr};

use sdp::SessionDescription;

use crate::media::codec::Codec;
use sdp::description::common::{Address, Attribute, ConnectionInformation};
use sdp::description::media::{MediaDescription, MediaName, RangedPort};
use sdp::description::session::{Origin, TimeDescription, Timing};

/// What the caller offered and we accept (the media legs' own description of a stream).
pub use crate::media::legs::Negotiated;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("the SDP body does not parse: {0}")]
    Malformed(String),
    #[error("the SDP offers no audio stream")]
    NoAudio,
    #[error("the SDP offers no codec we speak (PCMU or PCMA)")]
    NoCommonCodec,
    #[error("the SDP has no usable connection address")]
    NoAddress,
}

/// Read an offer (or the answer to ours) and choose: the first of PCMU/PCMA in the sender's order of
/// preference.
pub fn negotiate(body: &[u8]) -> Result<Negotiated, SdpError> {
    let offer = SessionDescription::unmarshal(&mut Cursor::new(body))
        .map_err(|e| SdpError::Malformed(e.to_string()))?;
    let audio = offer
        .media_descriptions
        .iter()
        .find(|m| m.media_name.media == "audio" && m.media_name.port.value > 0)
        .ok_or(SdpError::NoAudio)?;
    let rtpmap = |pt: &str| -> Option<String> {
        audio.attributes.iter().find_map(|a| {
            let value = a.value.as_deref()?;
            let (number, name) = value.split_once(' ')?;
            (a.key == "rtpmap" && number == pt).then(|| name.to_ascii_lowercase())
        })
    };
    let codec = audio
        .media_name
        .formats
        .iter()
        .find_map(|pt| match (pt.as_str(), rtpmap(pt).as_deref()) {
            ("0", None) => Some(Codec::Pcmu),
            ("8", None) => Some(Codec::Pcma),
            (_, Some(name)) if name.starts_with("pcmu/8000") => Some(Codec::Pcmu),
            (_, Some(name)) if name.starts_with("pcma/8000") => Some(Codec::Pcma),
            _ => None,
        })
        .ok_or(SdpError::NoCommonCodec)?;
    let dtmf_payload_type = audio.media_name.formats.iter().find_map(|pt| {
        rtpmap(pt)
            .filter(|name| name.starts_with("telephone-event/8000"))
            .and_then(|_| pt.parse().ok())
    });
    let address = audio
        .connection_information
        .as_ref()
        .or(offer.connection_information.as_ref())
        .and_then(|c| c.address.as_ref())
        .map(|a| a.address.split('/').next().unwrap_or_default().to_owned())
        .ok_or(SdpError::NoAddress)?;
    let ip: IpAddr = address.parse().map_err(|_| SdpError::NoAddress)?;
    let port = u16::try_from(audio.media_name.port.value).map_err(|_| SdpError::NoAddress)?;
    let direction = |attrs: &[Attribute]| {
        attrs
            .iter()
            .find(|a| {
                matches!(
                    a.key.as_str(),
                    "sendonly" | "inactive" | "recvonly" | "sendrecv"
                )
            })
            .map(|a| a.key.clone())
    };
    let direction = direction(&audio.attributes).or_else(|| direction(&offer.attributes));
    let on_hold =
        ip.is_unspecified() || matches!(direction.as_deref(), Some("sendonly" | "inactive"));
    Ok(Negotiated {
        remote: SocketAddr::new(ip, port),
        codec,
        dtmf_payload_type,
        on_hold,
    })
}

/// Our answer: one audio stream at `local`, the chosen codec and telephone-event.
/// `version` is bumped on every new answer in the same call (re-INVITE).
pub fn answer(local: SocketAddr, negotiated: &Negotiated, session_id: u64, version: u64) -> String {
    let codec = negotiated.codec;
    let mut formats = vec![codec.payload_type().to_string()];
    let mut attributes = vec![Attribute {
        key: String::from("rtpmap"),
        value: Some(format!("{} {}/8000", codec.payload_type(), codec.name())),
    }];
    if let Some(pt) = negotiated.dtmf_payload_type {
        formats.push(pt.to_string());
        attributes.push(Attribute {
            key: String::from("rtpmap"),
            value: Some(format!("{pt} telephone-event/8000")),
        });
        attributes.push(Attribute {
            key: String::from("fmtp"),
            value: Some(format!("{pt} 0-16")),
        });
    }
    let direction = if negotiated.on_hold {
        "recvonly"
    } else {
        "sendrecv"
    };
    session(local, session_id, version, formats, attributes, direction)
}

/// Our offer for a call the server places (to staff): one audio stream at `local`, PCMU and
/// PCMA in that order, and telephone-event (payload type 101). `version` 1 for a new call; a
/// new offer in the same session (a re-INVITE) keeps its id and bumps the version.
pub fn offer(local: SocketAddr, session_id: u64, version: u64) -> String {
    let formats = vec![
        Codec::Pcmu.payload_type().to_string(),
        Codec::Pcma.payload_type().to_string(),
        OFFERED_DTMF_PAYLOAD_TYPE.to_string(),
    ];
    let rtpmap = |value: String| Attribute {
        key: String::from("rtpmap"),
        value: Some(value),
    };
    let attributes = vec![
        rtpmap(format!(
            "{} {}/8000",
            Codec::Pcmu.payload_type(),
            Codec::Pcmu.name()
        )),
        rtpmap(format!(
            "{} {}/8000",
            Codec::Pcma.payload_type(),
            Codec::Pcma.name()
        )),
        rtpmap(format!("{OFFERED_DTMF_PAYLOAD_TYPE} telephone-event/8000")),
        Attribute {
            key: String::from("fmtp"),
            value: Some(format!("{OFFERED_DTMF_PAYLOAD_TYPE} 0-16")),
        },
    ];
    session(local, session_id, version, formats, attributes, "sendrecv")
}

/// The telephone-event payload type of our offers.
const OFFERED_DTMF_PAYLOAD_TYPE: u8 = 101;

/// One audio stream at `local` with these formats and attributes (ptime 20 and `direction`
/// are added).
fn session(
    local: SocketAddr,
    session_id: u64,
    version: u64,
    formats: Vec<String>,
    mut attributes: Vec<Attribute>,
    direction: &str,
) -> String {
    let address_type = if local.is_ipv6() { "IP6" } else { "IP4" };
    let ip = local.ip().to_string();
    attributes.push(Attribute {
        key: String::from("ptime"),
        value: Some(String::from("20")),
    });
    attributes.push(Attribute {
        key: direction.to_owned(),
        value: None,
    });
    let description = SessionDescription {
        origin: Origin {
            username: String::from("centralino"),
            session_id,
            session_version: version,
            network_type: String::from("IN"),
            address_type: address_type.to_owned(),
            unicast_address: ip.clone(),
        },
        session_name: String::from("centralino"),
        connection_information: Some(ConnectionInformation {
            network_type: String::from("IN"),
            address_type: address_type.to_owned(),
            address: Some(Address {
                address: ip,
                ttl: None,
                range: None,
            }),
        }),
        time_descriptions: vec![TimeDescription {
            timing: Timing {
                start_time: 0,
                stop_time: 0,
            },
            repeat_times: Vec::new(),
        }],
        media_descriptions: vec![MediaDescription {
            media_name: MediaName {
                media: String::from("audio"),
                port: RangedPort {
                    value: isize::try_from(local.port()).unwrap_or(0),
                    range: None,
                },
                protos: vec![String::from("RTP"), String::from("AVP")],
                formats,
            },
            attributes,
            ..MediaDescription::default()
        }],
        ..SessionDescription::default()
    };
    description.marshal()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIPP_OFFER: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-11,16\r\n";

    #[test]
    fn sipp_offer_gives_pcma_and_dtmf() {
        let n = negotiate(SIPP_OFFER.as_bytes()).unwrap();
        assert_eq!(n.codec, Codec::Pcma);
        assert_eq!(n.dtmf_payload_type, Some(101));
        assert_eq!(n.remote, "127.0.0.1:6000".parse().unwrap());
        assert!(!n.on_hold);
    }

    #[test]
    fn caller_preference_order_is_kept() {
        let offer = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8\r\n";
        assert_eq!(negotiate(offer.as_bytes()).unwrap().codec, Codec::Pcmu);
    }

    #[test]
    fn no_common_codec_and_garbage_are_errors() {
        let g729 = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n";
        assert_eq!(negotiate(g729.as_bytes()), Err(SdpError::NoCommonCodec));
        assert!(matches!(
            negotiate(b"not sdp at all"),
            Err(SdpError::Malformed(_))
        ));
        let video = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=video 4000 RTP/AVP 96\r\n";
        assert_eq!(negotiate(video.as_bytes()), Err(SdpError::NoAudio));
    }

    #[test]
    fn hold_is_detected() {
        let hold = SIPP_OFFER.replace(
            "a=fmtp:101 0-11,16\r\n",
            "a=fmtp:101 0-11,16\r\na=sendonly\r\n",
        );
        assert!(negotiate(hold.as_bytes()).unwrap().on_hold);
        let zero = SIPP_OFFER.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0");
        assert!(negotiate(zero.as_bytes()).unwrap().on_hold);
    }

    #[test]
    fn answer_round_trips() {
        let n = negotiate(SIPP_OFFER.as_bytes()).unwrap();
        let text = answer("127.0.0.1:20000".parse().unwrap(), &n, 42, 2);
        assert!(text.contains("m=audio 20000 RTP/AVP 8 101"), "{text}");
        assert!(
            text.contains("o=centralino 42 2 IN IP4 127.0.0.1"),
            "{text}"
        );
        let back = negotiate(text.as_bytes()).unwrap();
        assert_eq!(back.codec, Codec::Pcma);
        assert_eq!(back.dtmf_payload_type, Some(101));
        assert_eq!(back.remote, "127.0.0.1:20000".parse().unwrap());
    }

    #[test]
    fn our_offer_prefers_pcmu_and_offers_dtmf() {
        let text = offer("127.0.0.1:20002".parse().unwrap(), 7, 1);
        assert!(text.contains("m=audio 20002 RTP/AVP 0 8 101"), "{text}");
        let read = negotiate(text.as_bytes()).unwrap();
        assert_eq!(read.codec, Codec::Pcmu);
        assert_eq!(read.dtmf_payload_type, Some(101));
        assert!(!read.on_hold);
    }
}
