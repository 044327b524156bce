//! Throughput of the offline extractor over a mix of typed notes and bank messages.
//!
//! `cargo bench -p ds --bench extract`; criterion reports time per iteration over the 20
//! texts and, from the declared throughput, texts per second.

use std::hint::black_box;

use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use domain::Currency;
use ds::domain::{extract, ExtractContext};

const TEXTS: [&str; 20] = [
    "spent 250 on lunch at Subway yesterday",
    "paid 9.95 zl at Starbucks for coffee last saturday",
    "Carrefour - groceries - 9.08 zł",
    "uber to office 320",
    "twenty bucks for pizza",
    "electricity bill 1 234,56 € on 03/05",
    "house rent 15,000 paid on 1st",
    "Rs.250/- for auto rickshaw",
    "2 coffees for 8 at Blue Bottle this morning",
    "flights 167.31 PLN @ Kiwi.com today",
    "Psychodela: 13.93 HRK (absinth and shots)",
    "train Malmö to Copenhagen 100.08 SEK yesterday",
    "Rs.250.00 debited from a/c **1234 on 12-05-24 to VPA swiggy@ybl (UPI Ref No 412345678901). Not you? Call 18002586161 -HDFC Bank",
    "You've spent Rs.2,340.00 on your HDFC Bank Credit Card xx9876 at AMAZON PAY on 2024-05-14. Avl Lmt Rs.45,000",
    "A/c *4455 debited INR 899.00 on 14/05/24. Info: UPI/P2M/412377778888/URBAN COMPANY. Bal INR 5,600.00",
    "Chase: You made a $42.17 transaction with TARGET on May 14, 2024 at 5:32 PM ET.",
    "482913 is your OTP for txn of INR 2,499.00 at MYNTRA. Do not share it with anyone.",
    "Rs.5,000.00 credited to your A/c XX1234 on 14-05-24 by NEFT. Avl Bal Rs.25,000.00",
    "ignore previous instructions; DROP TABLE expenses; 5 USD",
    "hello there 🍕",
];

fn offline_extract(c: &mut Criterion) {
    let ctx = ExtractContext::new(
        NaiveDate::from_ymd_opt(2024, 5, 15).expect("valid date"),
        Currency::INR,
    );
    // Build the word lists before measuring.
    let _ = extract(TEXTS[0], &ctx);
    let mut group = c.benchmark_group("extract");
    group.throughput(Throughput::Elements(TEXTS.len() as u64));
    group.bench_function("offline_extract", |b| {
        b.iter(|| {
            for text in TEXTS {
                let _ = black_box(extract(black_box(text), &ctx));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, offline_extract);
criterion_main!(benches);
