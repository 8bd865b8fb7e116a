//! Joins customers with their orders (batch): an inner join for order totals per customer and a
//! left outer join to find customers without orders.
//! `join [--customers N] [--orders M] [--parallelism P]`

use clap::Parser;
use spate::prelude::*;

/// `(customer id, name)`.
type Customer = (u64, String);
/// `(order id, customer id, amount in cents)`.
type Orders = (u64, u64, u64);

/// Joins generated customers and orders.
#[derive(Parser)]
struct Args {
    /// Number of customers.
    #[arg(long, default_value_t = 10)]
    customers: u64,
    /// Number of orders.
    #[arg(long, default_value_t = 25)]
    orders: u64,
    /// Parallelism.
    #[arg(long, short = 'p')]
    parallelism: Option<u32>,
}

fn main() {
    let args = Args::parse();
    spate_examples::run_main(|| {
        let env = StreamEnv::from_env()?;
        if let Some(p) = args.parallelism {
            env.set_parallelism(p);
        }
        // (customer id, name)
        let customers = env.from_generator(Some(args.customers), None, |i| (i, format!("customer-{i}")));
        // (order id, customer id, amount in cents); customers 3, 6, 9, ... never order.
        let n = args.customers.max(1);
        let orders = env.from_generator(Some(args.orders), None, move |i| {
            let c = (i * 7) % n;
            let c = if c % 3 == 0 { (c + 1) % n } else { c };
            (i, c, 100 + (i * 37) % 900)
        });
        customers
            .join(&orders, |c: &Customer| c.0, |o: &Orders| o.1)
            .map(|((id, name), (_, _, cents)): (Customer, Orders)| (id, name, cents))
            .key_by(|t: &(u64, String, u64)| t.0)
            .sum(|t: &mut (u64, String, u64)| &mut t.2)
            .sort_by(|t: &(u64, String, u64)| t.0, Order::Ascending)
            .print_with(|(id, name, cents)| {
                format!("total {id}\t{name}\t{}.{:02}", cents / 100, cents % 100)
            });
        customers
            .left_outer_join(&orders, |c: &Customer| c.0, |o: &Orders| o.1)
            .filter(|(_, order): &(Customer, Option<Orders>)| order.is_none())
            .map(|(customer, _): (Customer, Option<Orders>)| customer)
            .sort_by(|c: &Customer| c.0, Order::Ascending)
            .print_with(|(id, name)| format!("no orders {id}\t{name}"));
        let result = env.execute("join")?;
        eprint!("{result}");
        Ok(())
    });
}
