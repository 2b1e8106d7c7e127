//! Lowercase hex text of bytes: the rhai helpers' `hex_encode` and json-build's `|HEX`
//! encoding are the same transformation.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// `[0x61, 0xff]` → `"61ff"`.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_each_byte_as_two_lowercase_digits() {
        assert_eq!(super::encode(b"abc"), "616263");
        assert_eq!(super::encode(&[0, 0x0f, 0xf0, 0xff]), "000ff0ff");
        assert_eq!(super::encode(&[]), "");
    }
}
