//! Envelope encryption with XChaCha20-Poly1305 (RustCrypto): each secret value is sealed under
//! its own random data key, and the data key is sealed ("wrapped") under the master key. The
//! 24-byte nonces are random, which XChaCha's nonce size makes safe. Each ciphertext is bound to
//! what it belongs to through the associated data: a value to its secret's name, a wrapped key to
//! the name and the master key version, a key check to its version. Moving a row to another name
//! or version makes it fail to open instead of decrypting to the wrong secret.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use crate::keyring::MasterKey;
use crate::VaultError;

const NONCE: usize = 24;
/// The known value sealed under each master key version (`vault_keys.key_check`).
const CHECK: &[u8] = b"junction vault key check";

pub(crate) fn random(buf: &mut [u8]) -> Result<(), VaultError> {
    getrandom::fill(buf).map_err(|e| VaultError::Crypto(format!("no system randomness: {e}")))
}

/// nonce ‖ ciphertext ‖ tag.
fn seal(key: &[u8; 32], aad: &[u8], plain: &[u8]) -> Result<Vec<u8>, VaultError> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let mut nonce = [0u8; NONCE];
    random(&mut nonce)?;
    let sealed = cipher
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad })
        .map_err(|_| VaultError::Crypto("sealing failed".into()))?;
    let mut out = Vec::with_capacity(NONCE + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// `None` when the key is wrong or the bytes were changed.
fn open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < NONCE {
        return None;
    }
    let (nonce, body) = sealed.split_at(NONCE);
    XChaCha20Poly1305::new(key.into())
        .decrypt(XNonce::from_slice(nonce), Payload { msg: body, aad })
        .ok()
        .map(Zeroizing::new)
}

fn value_aad(name: &str) -> Vec<u8> {
    format!("junction:secret:{name}").into_bytes()
}

fn wrap_aad(name: &str, master_version: i64) -> Vec<u8> {
    format!("junction:data-key:{name}:v{master_version}").into_bytes()
}

fn check_aad(version: i64) -> Vec<u8> {
    format!("junction:key-check:v{version}").into_bytes()
}

/// A sealed value: (wrapped data key, ciphertext).
pub(crate) fn seal_secret(
    master: &MasterKey,
    name: &str,
    value: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), VaultError> {
    let mut data_key = Zeroizing::new([0u8; 32]);
    random(data_key.as_mut_slice())?;
    let ciphertext = seal(&data_key, &value_aad(name), value)?;
    let wrapped = seal(
        &master.key,
        &wrap_aad(name, master.version),
        data_key.as_slice(),
    )?;
    Ok((wrapped, ciphertext))
}

/// Unwraps a data key sealed under `master` for secret `name`.
pub(crate) fn unwrap_key(
    master: &MasterKey,
    name: &str,
    wrapped: &[u8],
) -> Option<Zeroizing<[u8; 32]>> {
    let bytes = open(&master.key, &wrap_aad(name, master.version), wrapped)?;
    let key: [u8; 32] = bytes.as_slice().try_into().ok()?;
    Some(Zeroizing::new(key))
}

pub(crate) fn wrap_key(
    master: &MasterKey,
    name: &str,
    data_key: &[u8; 32],
) -> Result<Vec<u8>, VaultError> {
    seal(&master.key, &wrap_aad(name, master.version), data_key)
}

pub(crate) fn open_value(
    data_key: &[u8; 32],
    name: &str,
    ciphertext: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    open(data_key, &value_aad(name), ciphertext)
}

pub(crate) fn key_check(master: &MasterKey) -> Result<Vec<u8>, VaultError> {
    seal(&master.key, &check_aad(master.version), CHECK)
}

pub(crate) fn verify_check(master: &MasterKey, check: &[u8]) -> bool {
    open(&master.key, &check_aad(master.version), check).is_some_and(|v| v.as_slice() == CHECK)
}
