//! The deterministic data set: the same seed and size always give the same customers and orders.

use std::collections::HashMap;

use serde::Serialize;

/// Base time of the data set: 2024-01-01T00:00:00Z.
const EPOCH: i64 = 1_704_067_200;

/// A customer, in the mock's internal shape (each API version renders it its own way).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub email: String,
    pub status: String,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds.
    pub updated: i64,
    /// Raised by every change: the customer's version, for clients that compare them.
    pub version: u64,
    pub line1: String,
    pub city: String,
    pub postcode: String,
    pub country: String,
}

impl Customer {
    /// A new active customer created at `now` (Unix seconds), its id given when inserted.
    pub fn fresh(name: String, email: String, now: i64) -> Customer {
        Customer {
            id: String::new(),
            name,
            email,
            status: "active".into(),
            created: now,
            updated: now,
            version: 1,
            line1: String::new(),
            city: String::new(),
            postcode: String::new(),
            country: String::new(),
        }
    }
}

/// An order of a customer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Order {
    pub id: String,
    pub customer_id: String,
    /// Minor units (cents).
    pub amount: i64,
    pub currency: String,
    pub status: String,
    pub created: i64,
    pub updated: i64,
}

/// All resources, in id order, with an index by id.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub customers: Vec<Customer>,
    pub orders: Vec<Order>,
    index: HashMap<String, usize>,
    next_customer: u64,
}

/// SplitMix64: tiny, fast, and stable forever (a library generator may change its stream).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick<'a>(&mut self, of: &[&'a str]) -> &'a str {
        of[(self.next() % of.len() as u64) as usize]
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const FIRST: &[&str] = &[
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Linus", "Radia", "Donald",
];
const LAST: &[&str] = &[
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Hamilton", "Torvalds",
    "Perlman", "Knuth",
];
const CITIES: &[(&str, &str)] = &[
    ("London", "GB"),
    ("Paris", "FR"),
    ("Berlin", "DE"),
    ("Lisbon", "PT"),
    ("Oslo", "NO"),
    ("Austin", "US"),
];
const STATUSES: &[&str] = &["active", "active", "active", "delinquent", "closed"];
const ORDER_STATUSES: &[&str] = &["pending", "paid", "paid", "refunded"];

impl Dataset {
    /// Generates `customers` customers (and their orders) from `seed`.
    pub fn generate(seed: u64, customers: usize) -> Self {
        let mut rng = Rng(seed);
        let mut d = Dataset::default();
        for i in 1..=customers as u64 {
            let first = rng.pick(FIRST);
            let last = rng.pick(LAST);
            let (city, country) = CITIES[rng.below(CITIES.len() as u64) as usize];
            let created = EPOCH + (i as i64) * 60 + rng.below(60) as i64;
            let updated = created + rng.below(86_400 * 30) as i64;
            let id = format!("cus_{i:06}");
            for n in 0..rng.below(4) {
                let o_created = created + 3_600 * (n as i64 + 1);
                d.orders.push(Order {
                    id: format!("ord_{i:06}_{n}"),
                    customer_id: id.clone(),
                    amount: 100 + rng.below(100_000) as i64,
                    currency: if country == "US" { "USD" } else { "EUR" }.into(),
                    status: rng.pick(ORDER_STATUSES).into(),
                    created: o_created,
                    updated: o_created + rng.below(86_400) as i64,
                });
            }
            d.customers.push(Customer {
                email: format!(
                    "{}.{}{i}@example.com",
                    first.to_lowercase(),
                    last.to_lowercase()
                ),
                name: format!("{first} {last}"),
                id,
                status: rng.pick(STATUSES).into(),
                created,
                updated,
                version: 1,
                line1: format!("{} Main Street", 1 + rng.below(200)),
                city: city.into(),
                postcode: format!("{:05}", rng.below(100_000)),
                country: country.into(),
            });
        }
        d.next_customer = customers as u64 + 1;
        d.reindex();
        d
    }

    fn reindex(&mut self) {
        self.index = self
            .customers
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect();
    }

    pub fn customer(&self, id: &str) -> Option<&Customer> {
        self.index.get(id).map(|i| &self.customers[*i])
    }

    pub fn customer_mut(&mut self, id: &str) -> Option<&mut Customer> {
        self.index.get(id).map(|i| &mut self.customers[*i])
    }

    /// Adds a customer with the next id.
    pub fn insert(&mut self, mut c: Customer) -> &Customer {
        c.id = format!("cus_{:06}", self.next_customer);
        self.next_customer += 1;
        self.index.insert(c.id.clone(), self.customers.len());
        self.customers.push(c);
        self.customers.last().expect("just pushed")
    }

    /// Removes a customer; `false` if there was none.
    pub fn remove(&mut self, id: &str) -> bool {
        let Some(i) = self.index.get(id).copied() else {
            return false;
        };
        self.customers.remove(i);
        self.orders.retain(|o| o.customer_id != id);
        self.reindex();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::Dataset;

    #[test]
    fn the_same_seed_gives_the_same_data() {
        let a = Dataset::generate(7, 500);
        let b = Dataset::generate(7, 500);
        assert_eq!(a.customers, b.customers);
        assert_eq!(a.orders, b.orders);
        assert_ne!(Dataset::generate(8, 500).customers, a.customers);
        assert_eq!(a.customer("cus_000042").unwrap().id, "cus_000042");
    }
}
