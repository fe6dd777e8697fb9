//! The macro that turns the request table in `messages.rs` into the
//! [`Request`](crate::Request) and [`Reply`](crate::Reply) enums, opcodes,
//! the broker's [`Handler`](crate::Handler) trait, the dispatch function and
//! the client's [`Call`](crate::Call) impls. Adding a request is one line in
//! the table plus its two message types.

macro_rules! protocol_table {
    ($(
        $(#[$doc:meta])*
        $variant:ident => $method:ident($req:ty) -> $reply:ty;
    )*) => {
        /// Every request a client can send. The variant index is the opcode;
        /// new requests go at the end so old opcodes keep their meaning.
        #[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
        pub enum Request {
            $( $(#[$doc])* $variant($req), )*
        }

        /// The successful answer to each [`Request`], variant for variant.
        #[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
        pub enum Reply {
            $( #[doc = concat!("Answer to [`Request::", stringify!($variant), "`].")] $variant($reply), )*
        }

        #[derive(Clone, Copy)]
        #[allow(clippy::enum_variant_names)]
        enum Opcode { $( $variant, )* }

        impl Request {
            /// The request's name, for logs and traces.
            pub const fn name(&self) -> &'static str {
                match self { $( Self::$variant(_) => stringify!($variant), )* }
            }

            /// The request's opcode (its index in the table).
            pub const fn opcode(&self) -> u32 {
                match self { $( Self::$variant(_) => Opcode::$variant as u32, )* }
            }
        }

        /// The broker side: one method per request. `Context` carries who is
        /// asking and the current time; the broker decides what it holds.
        pub trait Handler {
            /// Per-request context (caller, time).
            type Context;
            $(
                $(#[$doc])*
                fn $method(&mut self, cx: &mut Self::Context, req: $req) -> $crate::Response<$reply>;
            )*
        }

        /// Routes a request to its handler method.
        pub fn dispatch<H: Handler>(handler: &mut H, cx: &mut H::Context, request: Request) -> $crate::Response<Reply> {
            match request {
                $( Request::$variant(req) => handler.$method(cx, req).map(Reply::$variant), )*
            }
        }

        $(
            impl $crate::Call for $req {
                type Reply = $reply;
                fn into_request(self) -> Request {
                    Request::$variant(self)
                }
                fn from_reply(reply: Reply) -> Option<$reply> {
                    #[allow(unreachable_patterns)]
                    match reply {
                        Reply::$variant(r) => Some(r),
                        _ => None,
                    }
                }
            }
        )*
    };
}
