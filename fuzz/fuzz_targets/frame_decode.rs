//! The broker's frame path: split, decode, handshake. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_proto::{HandshakeReply, Hello, ReplyFrame, RequestFrame, decode_body, split_frame};

fuzz_target!(|data: &[u8]| {
    let _ = Hello::decode(data);
    let _ = HandshakeReply::decode(data);
    let mut rest = data;
    while let Ok(Some((used, body))) = split_frame(rest, 64 * 1024) {
        let _ = decode_body::<RequestFrame>(body);
        let _ = decode_body::<ReplyFrame>(body);
        rest = &rest[used..];
    }
});
