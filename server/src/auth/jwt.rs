//! Access tokens: HS256 JWTs with `sub`, `role`, `locs`, `iat`, `nbf`, `exp`, `jti`,
//! `iss`, `aud`. Only HS256 is accepted, so `alg: none` and algorithm swaps fail.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use frontdesk_protocol::Role;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    /// Username, so logs and audit entries read well without a lookup.
    pub name: String,
    pub role: Role,
    pub locs: Vec<String>,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    pub iss: String,
    pub aud: String,
    /// The refresh-token family the token was issued from: when that family is revoked
    /// (signed out, or a spent refresh token presented again) its live sessions end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fam: Option<String>,
}

impl Claims {
    pub fn expires_at(&self) -> DateTime<Utc> {
        Utc.timestamp_opt(self.exp, 0).single().unwrap_or_else(Utc::now)
    }

    /// When a session on this token must end: expiry plus the same leeway validation
    /// allows (`exp` is in whole seconds, so a desk refreshing just in time is not cut off).
    pub fn session_deadline(&self) -> DateTime<Utc> {
        self.expires_at() + chrono::Duration::seconds(LEEWAY_S as i64)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is not valid")]
    Invalid,
}

/// Seconds of clock difference tolerated between servers of one deployment.
pub const LEEWAY_S: u64 = 5;

pub struct TokenIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl TokenIssuer {
    pub fn new(secret: &[u8], issuer: &str, audience: &str, ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_S;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn issue(
        &self,
        user_id: &str,
        username: &str,
        role: Role,
        locations: &[String],
        family: Option<&str>,
    ) -> String {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_owned(),
            name: username.to_owned(),
            role,
            locs: locations.to_vec(),
            iat: now,
            nbf: now,
            exp: now + self.ttl.as_secs() as i64,
            jti: uuid::Uuid::new_v4().to_string(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            fam: family.map(str::to_owned),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 encoding of plain claims cannot fail")
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        match jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation) {
            Ok(data) => Ok(data.claims),
            Err(err) => match err.kind() {
                ErrorKind::ExpiredSignature => Err(TokenError::Expired),
                _ => Err(TokenError::Invalid),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> TokenIssuer {
        TokenIssuer::new(b"0123456789abcdef0123456789abcdef", "frontdesk", "frontdesk-desk", Duration::from_secs(60))
    }

    #[test]
    fn issued_tokens_verify() {
        let t = issuer();
        let token = t.issue("u1", "ann", Role::FrontDesk, &["demo".into()], Some("family-1"));
        let claims = t.verify(&token).unwrap();
        assert_eq!(claims.sub, "u1");
        assert_eq!(claims.locs, ["demo"]);
    }

    #[test]
    fn tokens_of_another_key_or_audience_are_refused() {
        let token = issuer().issue("u1", "ann", Role::FrontDesk, &[], None);
        let other = TokenIssuer::new(
            b"another-secret-another-secret-xx",
            "frontdesk",
            "frontdesk-desk",
            Duration::from_secs(60),
        );
        assert_eq!(other.verify(&token).unwrap_err(), TokenError::Invalid);
        let other_aud =
            TokenIssuer::new(b"0123456789abcdef0123456789abcdef", "frontdesk", "elsewhere", Duration::from_secs(60));
        assert_eq!(other_aud.verify(&token).unwrap_err(), TokenError::Invalid);
    }
}
