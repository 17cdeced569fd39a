// TEMPORARY compile shim until the auth and trig branches land. Not committed.
#![allow(dead_code)]
pub enum SignatureScheme { Github, Stripe, Hmac }
pub struct Sig { pub scheme: SignatureScheme, pub secret: u32, pub tolerance_s: Option<u64>, pub header: Option<String> }
#[derive(Clone, Copy, Default)]
pub enum Catchup { None, #[default] Latest, All }
impl Catchup { pub fn keyword(self) -> &'static str { "latest" } }
