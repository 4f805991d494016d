//! Quantities as the config file writes them, for messages that point at a setting.

/// A byte count as `junction.yaml` writes it: `1MiB`, `512KiB`, `1000B`.
pub fn bytes_text(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{}MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{}KiB", b >> 10),
        b => format!("{b}B"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_as_the_config_writes_them() {
        assert_eq!(super::bytes_text(1 << 20), "1MiB");
        assert_eq!(super::bytes_text(3 << 20), "3MiB");
        assert_eq!(super::bytes_text(512 << 10), "512KiB");
        assert_eq!(super::bytes_text(1000), "1000B");
    }
}
