//! States kept as text columns, typed in Rust: one definition gives the enum, its text, its
//! parsing, its JSON form, and the conversions from both backends' rows, so no state is ever
//! compared as a string and an unknown one in the database is an error, not a silent mismatch.

macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $( $(#[$vmeta])* $variant ),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $text ),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $( $text => Some($name::$variant), )+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl rusqlite::types::FromSql for $name {
            fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                let s = v.as_str()?;
                Self::parse(s).ok_or_else(|| {
                    rusqlite::types::FromSqlError::Other(
                        format!("unknown {} `{s}`", stringify!($name)).into(),
                    )
                })
            }
        }

        impl sqlx::Type<sqlx::Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::Type<sqlx::Postgres>>::type_info()
            }

            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $name {
            fn decode(v: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let s = <&str as sqlx::Decode<'r, sqlx::Postgres>>::decode(v)?;
                Self::parse(s)
                    .ok_or_else(|| format!("unknown {} `{s}`", stringify!($name)).into())
            }
        }
    };
}

text_enum! {
    /// Where a delivery stands.
    pub enum DeliveryState {
        /// Waiting for its next attempt, or being attempted under a lease.
        Pending => "pending",
        Delivered => "delivered",
        /// Dead-lettered: kept with its reason and last response, replayable.
        Dead => "dead",
        /// Not sent: a newer event of its key was already delivered (`latest` ordering).
        Stale => "stale",
        /// Not sent: its mapping or model validation failed. Kept with the errors, replayable.
        Quarantined => "quarantined",
        /// Not sent: an operator discarded it (a dead letter or a quarantined delivery).
        Discarded => "discarded",
    }
}

text_enum! {
    /// A connection's state.
    pub enum ConnectionState {
        Active => "active",
        /// Repeated refresh failures: calls fail fast until someone re-authorises it.
        NeedsReauth => "needs_reauth",
    }
}

text_enum! {
    /// An alert's state.
    pub enum AlertState {
        Firing => "firing",
        Resolved => "resolved",
    }
}
