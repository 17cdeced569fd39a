// TEMPORARY compile shim until the auth and trig branches land. Not committed.
#![allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role { Read, Trigger, Decide, Operate, Admin }
impl Role {
    pub const fn keyword(self) -> &'static str { match self { Role::Read => "read", Role::Trigger => "trigger", Role::Decide => "decide", Role::Operate => "operate", Role::Admin => "admin" } }
    pub fn grants(self, n: Role) -> bool { self == Role::Admin || self == n || n == Role::Read }
}
pub struct Directory;
impl Directory { pub fn load(_: &std::path::Path) -> Result<Directory, String> { Ok(Directory) } }
pub struct Actor { pub principal: String, pub on_behalf_of: Option<String>, pub token: Option<String>, pub address: Option<String>, pub via: &'static str }
pub struct TokenInfo { pub id: String, pub principal: String }
impl TokenInfo { pub fn effective_roles(&self, _: &Directory) -> Vec<Role> { vec![] } }
pub enum TokenCheck { Valid(TokenInfo), Unknown, Revoked(TokenInfo), Expired(TokenInfo) }
pub trait Tok { fn verify_token(&self, _: &str, _: i64) -> Result<TokenCheck, String>; fn touch_token(&mut self, _: &str, _: i64) -> Result<(), String>; }
impl Tok for flowc_interpreter::state::SqliteStore { fn verify_token(&self, _: &str, _: i64) -> Result<TokenCheck, String> { Ok(TokenCheck::Unknown) } fn touch_token(&mut self, _: &str, _: i64) -> Result<(), String> { Ok(()) } }
pub enum SignatureScheme { Github, Stripe, Hmac }
pub struct Sig { pub scheme: SignatureScheme, pub secret: u32, pub tolerance_s: Option<u64>, pub header: Option<String> }
#[derive(Clone, Copy, Default)]
pub enum Catchup { None, #[default] Latest, All }
impl Catchup { pub fn keyword(self) -> &'static str { "latest" } }
