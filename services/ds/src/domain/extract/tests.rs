//! Tests of the whole extractor, one group per requirement. The texts are written for
//! these tests (none comes from the dev set), in many styles and currencies.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use domain::{Category, Currency};
use proptest::prelude::*;

use super::*;

/// 2024-05-15 is a Wednesday.
const TODAY: &str = "2024-05-15";

fn ctx(default: &str) -> ExtractContext {
    ExtractContext::new(TODAY.parse().unwrap(), Currency::parse(default).unwrap())
}

fn run(text: &str, default: &str) -> Extraction {
    match extract(text, &ctx(default)) {
        Ok(x) => x,
        Err(e) => panic!("{text:?}: {e}"),
    }
}

/// Amount and currency as "12.50 USD".
fn money(text: &str, default: &str) -> String {
    let x = run(text, default);
    format!("{} {}", x.amount, x.currency)
}

fn merchant(text: &str, default: &str) -> Option<String> {
    run(text, default).merchant
}

fn category(text: &str) -> Category {
    run(text, "USD").category
}

fn date(text: &str) -> Option<String> {
    run(text, "EUR").date.map(|d| d.to_string())
}

fn rejection(text: &str) -> Rejection {
    match extract(text, &ctx("INR")) {
        Ok(x) => panic!("{text:?} should be rejected, got {x:?}"),
        Err(e) => e,
    }
}

// === amounts ===

#[test]
fn reads_amounts_in_every_common_notation() {
    let cases = [
        ("coffee 12.50", "USD", "12.50 USD"),
        ("laptop 1,234.56", "USD", "1234.56 USD"),
        ("miete 1.234,56", "EUR", "1234.56 EUR"),
        ("loyer 1 234,56", "EUR", "1234.56 EUR"),
        ("Kühlschrank 1\u{a0}299,00 €", "EUR", "1299.00 EUR"),
        ("car down payment 1,00,000", "INR", "100000.00 INR"),
        ("wedding shopping 2,50,000.50", "INR", "250000.50 INR"),
        ("new phone 2.5k", "USD", "2500.00 USD"),
        ("bike 12K", "INR", "12000.00 INR"),
        ("Rs.250/- for the barber", "INR", "250.00 INR"),
        ("250/- tea and snacks", "INR", "250.00 INR"),
        ("INR 1,250.00 at the mall", "USD", "1250.00 INR"),
        ("fees 3 lakh", "INR", "300000.00 INR"),
        ("watch CHF 1'299.50", "CHF", "1299.50 CHF"),
        ("groceries 19,43", "PLN", "19.43 PLN"),
        ("lunch 7", "EUR", "7.00 EUR"),
        ("snack 0.5", "GBP", "0.50 GBP"),
    ];
    for (text, default, want) in cases {
        assert_eq!(money(text, default), want, "{text}");
    }
}

#[test]
fn reads_small_amounts_in_words() {
    let cases = [
        ("twenty bucks for pizza", "USD", "20.00 USD"),
        ("a hundred and fifty for the plumber", "GBP", "150.00 GBP"),
        ("spent fifty rupees on chai", "USD", "50.00 INR"),
        ("twenty-five euros for the museum", "USD", "25.00 EUR"),
        ("two hundred rupees auto", "INR", "200.00 INR"),
        ("paid a tenner for parking", "GBP", "10.00 GBP"),
        ("gave him forty quid", "EUR", "40.00 GBP"),
        ("spent thirty on lunch", "EUR", "30.00 EUR"),
    ];
    for (text, default, want) in cases {
        assert_eq!(money(text, default), want, "{text}");
    }
}

#[test]
fn picks_the_spent_amount_among_other_numbers() {
    let cases = [
        // balances and account digits
        (
            "Rs 250 debited from A/c XX1234. Avl Bal Rs 5,000.00",
            "INR",
            "250.00 INR",
        ),
        (
            "Avl Bal: INR 10,000.00 after INR 1,200.00 spent at Croma",
            "INR",
            "1200.00 INR",
        ),
        ("Card ending 4321 charged $19.99 at Spotify", "USD", "19.99 USD"),
        // quantities
        ("2 coffees 7.40", "EUR", "7.40 EUR"),
        ("3 beers for 18", "EUR", "18.00 EUR"),
        ("2 kg apples 180 rs", "INR", "180.00 INR"),
        ("3 nights hotel 450", "EUR", "450.00 EUR"),
        // times and dates
        ("dinner at 7pm 45", "USD", "45.00 USD"),
        ("dinner at 19:30 for 62.50", "EUR", "62.50 EUR"),
        ("taxi 23 on 12/05", "EUR", "23.00 EUR"),
        ("2024-05-10 groceries 54.20", "EUR", "54.20 EUR"),
        ("3 days ago lunch 11", "EUR", "11.00 EUR"),
        // percentages, phone and reference numbers
        ("tip 15% on a 80 dinner", "USD", "80.00 USD"),
        (
            "paid 500 to plumber, call 9876543210 for more",
            "INR",
            "500.00 INR",
        ),
        ("UPI Ref 412345678901 paid 349", "INR", "349.00 INR"),
        ("order #40321 shoes 59.90", "EUR", "59.90 EUR"),
        // currency marker wins over a bare number
        ("room 204 hotel minibar 12 EUR", "USD", "12.00 EUR"),
        ("bus 42 ticket 2.50", "EUR", "2.50 EUR"),
    ];
    for (text, default, want) in cases {
        assert_eq!(money(text, default), want, "{text}");
    }
}

#[test]
fn warns_when_several_amounts_compete() {
    let x = run("Rs 250 debited from A/c XX1234. Avl Bal Rs 5,000.00", "INR");
    assert!(
        x.warnings
            .iter()
            .any(|w| w.starts_with("several amounts; picked 250.00")),
        "{:?}",
        x.warnings
    );
}

#[test]
fn keeps_amounts_exact_at_the_currency_scale() {
    assert_eq!(run("coffee 12.5", "USD").amount.to_string(), "12.50");
    assert_eq!(run("ramen ¥1200", "USD").amount.to_string(), "1200");
    assert_eq!(run("dinner 3.750 BHD", "USD").amount.to_string(), "3.750");
    assert_eq!(run("dinner 3.75 KWD", "USD").amount.to_string(), "3.750");
    // More decimals than the currency has: rounded half to even, with a warning.
    let x = run("fuel 45.5555 EUR", "EUR");
    assert_eq!(x.amount.to_string(), "45.56");
    assert!(x.warnings.iter().any(|w| w.contains("rounded to 45.56")));
    let x = run("ramen ¥120.5", "JPY");
    assert_eq!(x.amount.to_string(), "120");
    assert!(x.warnings.iter().any(|w| w.contains("rounded to 120")));
    // "1.500" with a two-decimal currency groups thousands.
    let x = run("sofa 1.500 EUR", "EUR");
    assert_eq!(x.amount.to_string(), "1500.00");
    assert!(x.warnings.iter().any(|w| w.contains("thousands separator")));
    assert_eq!(x.money().minor(), 150_000);
}

#[test]
fn a_text_without_an_amount_is_rejected() {
    assert_eq!(rejection("had lunch with Anna"), Rejection::NoAmount);
    assert_eq!(rejection("call me at 9876543210"), Rejection::NoAmount);
    assert_eq!(rejection("🍕🍕🍕"), Rejection::NoAmount);
    assert_eq!(rejection("0 spent today"), Rejection::NoAmount);
    assert_eq!(Rejection::NoAmount.to_string(), "no amount found in text");
}

// === currencies ===

#[test]
fn currency_from_symbols() {
    let cases = [
        ("$5 coffee", "USD", "USD"),
        ("€5 coffee", "USD", "EUR"),
        ("£5 coffee", "USD", "GBP"),
        ("¥500 coffee", "USD", "JPY"),
        ("¥50 coffee", "CNY", "CNY"),
        ("₹50 coffee", "USD", "INR"),
        ("₩5000 coffee", "USD", "KRW"),
        ("₽300 coffee", "USD", "RUB"),
        ("₺80 coffee", "USD", "TRY"),
        ("₫45000 coffee", "USD", "VND"),
        ("R$ 12 coffee", "USD", "BRL"),
        ("A$5 coffee", "USD", "AUD"),
        ("C$5 coffee", "USD", "CAD"),
        ("NZ$5 coffee", "USD", "NZD"),
        ("HK$30 coffee", "USD", "HKD"),
        ("S$6 coffee", "USD", "SGD"),
        ("US$5 coffee", "CAD", "USD"),
        ("45 zł coffee", "USD", "PLN"),
        ("40 kr coffee", "USD", "SEK"),
        ("Fr. 6 coffee", "USD", "CHF"),
        ("฿90 coffee", "USD", "THB"),
        ("₪20 coffee", "USD", "ILS"),
    ];
    for (text, default, want) in cases {
        assert_eq!(run(text, default).currency.code(), want, "{text}");
    }
}

#[test]
fn currency_from_codes_next_to_the_number() {
    let cases = [
        ("coffee 4 USD", "EUR"),
        ("coffee USD 4", "EUR"),
        ("coffee 4usd", "EUR"),
        ("coffee 4 usd", "EUR"),
    ];
    for (text, default) in cases {
        assert_eq!(run(text, default).currency.code(), "USD", "{text}");
    }
    assert_eq!(run("hotel 300 MAD", "EUR").currency.code(), "MAD");
    assert_eq!(run("ferry 20 HRK", "EUR").currency.code(), "HRK");
    assert_eq!(run("taxi 1500 ISK", "EUR").currency.code(), "ISK");
    assert_eq!(run("bus 2 CZK", "EUR").currency.code(), "CZK");
}

#[test]
fn currency_from_words() {
    let cases = [
        ("200 rupees dinner", "USD", "INR"),
        ("lunch 300 rs", "USD", "INR"),
        ("20 bucks taxi", "EUR", "USD"),
        ("20 dollars taxi", "EUR", "USD"),
        ("20 euros taxi", "USD", "EUR"),
        ("20 quid taxi", "USD", "GBP"),
        ("20 pounds taxi", "USD", "GBP"),
        ("2000 yen taxi", "USD", "JPY"),
        ("30 yuan taxi", "USD", "CNY"),
        ("9000 won taxi", "USD", "KRW"),
        ("20 zloty taxi", "USD", "PLN"),
        ("20 zl taxi", "USD", "PLN"),
        ("80 kuna taxi", "USD", "HRK"),
        ("80 kn taxi", "USD", "HRK"),
        ("20 francs taxi", "USD", "CHF"),
        ("200 pesos taxi", "USD", "MXN"),
        ("200 pesos taxi", "PHP", "PHP"),
        ("30 reais taxi", "USD", "BRL"),
        ("200 baht taxi", "USD", "THB"),
        ("50 dirham taxi", "USD", "AED"),
        ("20 ringgit taxi", "USD", "MYR"),
        ("100 rand taxi", "USD", "ZAR"),
        ("200 lira taxi", "USD", "TRY"),
        ("300 kronor taxi", "USD", "SEK"),
    ];
    for (text, default, want) in cases {
        assert_eq!(run(text, default).currency.code(), want, "{text}");
    }
}

#[test]
fn default_currency_when_none_is_written() {
    let x = run("lunch 12", "INR");
    assert_eq!(x.currency.code(), "INR");
    assert!(x
        .warnings
        .contains(&"currency not written; used default INR".to_owned()));
}

#[test]
fn ambiguous_markers_follow_the_default_family() {
    // "$" follows a dollar default, else USD.
    for (default, want) in [
        ("USD", "USD"),
        ("CAD", "CAD"),
        ("AUD", "AUD"),
        ("NZD", "NZD"),
        ("SGD", "SGD"),
        ("HKD", "HKD"),
        ("MXN", "MXN"),
        ("EUR", "USD"),
        ("INR", "USD"),
    ] {
        assert_eq!(
            run("$12 lunch", default).currency.code(),
            want,
            "default {default}"
        );
    }
    let x = run("$12 lunch", "EUR");
    assert!(x.warnings.iter().any(|w| w.contains("'$'")), "{:?}", x.warnings);
    // "kr" follows SEK/NOK/DKK/ISK, else SEK.
    for (default, want) in [
        ("SEK", "SEK"),
        ("NOK", "NOK"),
        ("DKK", "DKK"),
        ("ISK", "ISK"),
        ("EUR", "SEK"),
    ] {
        assert_eq!(
            run("kr 120 lunch", default).currency.code(),
            want,
            "default {default}"
        );
    }
    // "¥" is JPY unless the default is CNY.
    assert_eq!(run("¥120 lunch", "CNY").currency.code(), "CNY");
    assert_eq!(run("¥120 lunch", "EUR").currency.code(), "JPY");
    // "Rs" follows a rupee default.
    assert_eq!(run("Rs 120 lunch", "PKR").currency.code(), "PKR");
    assert_eq!(run("Rs 120 lunch", "LKR").currency.code(), "LKR");
    assert_eq!(run("Rs 120 lunch", "GBP").currency.code(), "INR");
}

// === merchants ===

#[test]
fn merchant_from_phrasings() {
    let cases = [
        ("lunch at Nando's 14.50", Some("Nando's")),
        ("groceries 32 from Whole Foods", Some("Whole Foods")),
        ("sent 500 to Priya", Some("Priya")),
        ("coffee @Starbucks 4.10", Some("Starbucks")),
        ("coffee @ Café Lumière 4.10", Some("Café Lumière")),
        ("Hopper Books 40 eur", Some("Hopper Books")),
        ("Koko Ramen - 18", Some("Koko Ramen")),
        ("Blue Door Bakery: 6.20 (croissants)", Some("Blue Door Bakery")),
        ("18.90 EUR Kino Palatin tickets", Some("Kino Palatin")),
        ("yesterday Green Grocer 12.10", Some("Green Grocer")),
        ("paid 30 at Casa Pepe for dinner on friday", Some("Casa Pepe")),
        ("dinner at Joe's Diner 25 yesterday", Some("Joe's Diner")),
        ("dinner at pikapika 25", Some("Pikapika")),
        ("paid 45 at IKEA", Some("IKEA")),
        ("paid 45 at ikea", Some("IKEA")),
        ("2 coffees at mcdonalds 5", Some("McDonald's")),
        ("Prague: Albert 245 CZK groceries", Some("Albert")),
        ("hostel 28 EUR at Plus Florence", Some("Plus Florence")),
        ("ZET tram 4 kn", Some("ZET")),
        ("Advent of Code 34.06 HRK", Some("Advent of Code")),
        ("7-Eleven 3.20 sandwich", Some("7-Eleven")),
    ];
    for (text, want) in cases {
        assert_eq!(merchant(text, "EUR").as_deref(), want, "{text}");
    }
}

#[test]
fn merchant_stops_at_prepositions_dates_and_ids() {
    let cases = [
        ("paid 20 at Casa Pepe for lunch", "Casa Pepe"),
        ("paid 20 at Casa Pepe on monday", "Casa Pepe"),
        ("paid 20 at Casa Pepe yesterday", "Casa Pepe"),
        ("paid 20 at Casa Pepe with Anna", "Casa Pepe"),
        ("paid 20 at Casa Pepe 12/05", "Casa Pepe"),
        ("paid 20 at Casa Pepe at 8pm", "Casa Pepe"),
        (
            "Rs 500 spent at SHREE GANESH STORES on 12-05-24 Ref 4123456",
            "Shree Ganesh Stores",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(merchant(text, "EUR").as_deref(), Some(want), "{text}");
    }
}

#[test]
fn no_merchant_when_none_is_named() {
    for text in [
        "lunch 12",
        "coffee at the airport 4.50",
        "beers at a bar 20",
        "snack from the vending machine 2",
        "paid 500 to mom",
        "rent 800 to the landlord",
        "bus to Katowice 30",
        "train Berlin to Hamburg 49",
        "paid 41 for train Bergamo to Milano",
        "cinema tickets for Dune 24",
        "taxi in Lisbon 14",
        "Coffee 4.50",
        "Groceries: 45",
        "Lunch - 12",
        "tickets, 30, yesterday",
        "Due to rain took a cab 300",
        "EMI of Rs 5,000 debited for loan",
    ] {
        assert_eq!(merchant(text, "EUR"), None, "{text}");
    }
}

#[test]
fn merchant_from_bank_messages() {
    let cases = [
        ("Rs.349.00 debited from a/c **1234 on 12-05-24 to VPA swiggy@ybl (UPI Ref No 412345678901).", "Swiggy"),
        ("Rs.120.00 debited from a/c **1234 to VPA chaiwala.point@okaxis", "Chaiwala"),
        ("You've spent Rs.2,340.00 on your Credit Card xx9876 at AMAZON PAY on 2024-05-14.", "Amazon Pay"),
        ("A/c *4455 debited INR 899.00 on 14/05/24. Info: UPI/P2M/412377778888/GREEN LEAF CAFE. Bal INR 5,600.00", "Green Leaf Cafe"),
        ("ICICI Bank Acct XX456 debited for Rs 1,499.00 on 14-May-24; MYNTRA credited. UPI:412312341234.", "Myntra"),
        ("Dear UPI user A/C X1234 debited by 180.0 on date 13May24 trf to RAMESH TEA STALL Refno 412398765432", "Ramesh Tea Stall"),
        ("Chase: You made a $42.17 transaction with WALGREENS on May 14, 2024", "Walgreens"),
        ("Monzo: £8.40 at Pret A Manger", "Pret A Manger"),
    ];
    for (text, want) in cases {
        assert_eq!(merchant(text, "INR").as_deref(), Some(want), "{text}");
    }
}

// === categories ===

#[test]
fn category_from_known_merchants() {
    let cases = [
        ("Swiggy 320", Category::FoodAndDrink),
        ("Zomato 410", Category::FoodAndDrink),
        ("uber 230", Category::Transport),
        ("Ola 180", Category::Transport),
        ("Rapido 60", Category::Transport),
        ("BigBasket 1200", Category::Groceries),
        ("Blinkit 340", Category::Groceries),
        ("Zepto 210", Category::Groceries),
        ("DMart 2300", Category::Groceries),
        ("Flipkart 999", Category::Shopping),
        ("Myntra 1499", Category::Shopping),
        ("Netflix 649", Category::Entertainment),
        ("Spotify 119", Category::Entertainment),
        ("Starbucks 5", Category::FoodAndDrink),
        ("KFC 12", Category::FoodAndDrink),
        ("Domino's 499", Category::FoodAndDrink),
        ("Tesco 40", Category::Groceries),
        ("Shell 60", Category::Transport),
        ("Airbnb 240", Category::Travel),
        ("IRCTC 1150", Category::Travel),
        ("MakeMyTrip 5600", Category::Travel),
        ("Apollo Pharmacy 430", Category::Health),
        ("Jio recharge 299", Category::Utilities),
        ("Airtel 599", Category::Utilities),
    ];
    for (text, want) in cases {
        assert_eq!(category(text), want, "{text}");
    }
}

#[test]
fn category_from_keywords() {
    let cases = [
        ("lunch 12", Category::FoodAndDrink),
        ("dinner with friends 40", Category::FoodAndDrink),
        ("coffee 3", Category::FoodAndDrink),
        ("weekly groceries 80", Category::Groceries),
        ("taxi home 25", Category::Transport),
        ("bus ticket 2", Category::Transport),
        ("fuel 60", Category::Transport),
        ("rent 900", Category::Housing),
        ("electricity bill 75", Category::Utilities),
        ("internet 40", Category::Utilities),
        ("medicine 12", Category::Health),
        ("doctor 80", Category::Health),
        ("movie tickets 24", Category::Entertainment),
        ("flight to Rome 120", Category::Travel),
        ("hotel 2 nights 240", Category::Travel),
        ("tuition 500", Category::Education),
        ("books 35", Category::Education),
        ("haircut 20", Category::PersonalCare),
        ("gift for Sam 30", Category::GiftsAndDonations),
        ("donation 50", Category::GiftsAndDonations),
        ("bank fee 5", Category::FeesAndCharges),
        ("insurance premium 120", Category::Insurance),
        ("jeans 60", Category::Shopping),
        ("misc 10", Category::Other),
        ("thing 10", Category::Other),
    ];
    for (text, want) in cases {
        assert_eq!(category(text), want, "{text}");
    }
}

#[test]
fn strong_merchants_beat_weak_keywords_and_purpose_beats_general_stores() {
    assert_eq!(category("salad at Lidl 4"), Category::Groceries);
    assert_eq!(category("sandwich at Tesco 3"), Category::Groceries);
    assert_eq!(category("medicine at Walmart 12"), Category::Health);
    assert_eq!(category("books on Amazon 30"), Category::Education);
    assert_eq!(category("gifts at Flying Tiger 30"), Category::GiftsAndDonations);
    assert_eq!(category("coffee at the bus station 3"), Category::FoodAndDrink);
}

// === dates ===

#[test]
fn dates_in_every_common_form() {
    let cases = [
        ("lunch 12 today", Some("2024-05-15")),
        ("lunch 12 yesterday", Some("2024-05-14")),
        ("lunch 12 day before yesterday", Some("2024-05-13")),
        ("lunch 12 on friday", Some("2024-05-10")),
        ("lunch 12 on wednesday", Some("2024-05-15")),
        ("lunch 12 last tue", Some("2024-05-14")),
        ("lunch 12 last wednesday", Some("2024-05-08")),
        ("lunch 12 3 days ago", Some("2024-05-12")),
        ("lunch 12 a week ago", Some("2024-05-08")),
        ("lunch 12 3rd May", Some("2024-05-03")),
        ("lunch 12 May 3", Some("2024-05-03")),
        ("lunch 12 on the 20th", Some("2024-04-20")),
        ("lunch 12 2024-05-03", Some("2024-05-03")),
        ("lunch 12 03/05/24", Some("2024-05-03")),
        ("lunch 12 03/05", Some("2024-05-03")),
        ("lunch 12 03-05-2024", Some("2024-05-03")),
        ("lunch 12 03-May-24", Some("2024-05-03")),
        ("lunch 12 03.05.2024", Some("2024-05-03")),
        ("lunch 12 December 24", Some("2023-12-24")),
        ("lunch 12", None),
    ];
    for (text, want) in cases {
        assert_eq!(date(text).as_deref(), want, "{text}");
    }
}

#[test]
fn month_first_dates_when_asked() {
    let mut c = ctx("USD");
    c.day_first = false;
    let x = extract("lunch 12 on 05/03", &c).unwrap();
    assert_eq!(x.date, NaiveDate::from_ymd_opt(2024, 5, 3));
}

#[test]
fn dates_never_land_in_the_future() {
    // No year: the most recent such day.
    assert_eq!(date("gift 20 on 24/12").as_deref(), Some("2023-12-24"));
    // An explicit future date is dropped with a warning; one day ahead is clamped.
    let x = run("lunch 12 on 2024-08-01", "EUR");
    assert_eq!(x.date, None);
    assert!(x.warnings.iter().any(|w| w.contains("in the future")));
    assert_eq!(date("lunch 12 on 2024-05-16").as_deref(), Some("2024-05-15"));
    assert_eq!(date("lunch 12 next friday"), None);
}

#[test]
fn no_date_is_reported() {
    let x = run("lunch 12", "EUR");
    assert!(x
        .warnings
        .contains(&"no date in text; caller uses today".to_owned()));
}

// === bank messages ===

#[test]
fn indian_bank_debits_are_expenses() {
    let cases = [
        (
            "Rs.250.00 debited from a/c **1234 on 12-05-24 to VPA swiggy@ybl (UPI Ref No 412345678901). Not you? Call 18002586161 -HDFC Bank",
            "250.00 INR", Some("Swiggy"), "2024-05-12",
        ),
        (
            "Dear UPI user A/C X1234 debited by 180.0 on date 13May24 trf to ZOMATO Refno 412398765432. If not u? call 1800111109. -SBI",
            "180.00 INR", Some("Zomato"), "2024-05-13",
        ),
        (
            "INR 3,200.00 spent on ICICI Bank Card XX1111 on 10-May-24 at DECATHLON SPORTS. Avl Limit: INR 1,20,000.00",
            "3200.00 INR", Some("Decathlon"), "2024-05-10",
        ),
        (
            "Rs 2,000 withdrawn at ATM from A/c XX3456 on 09May. Avl Bal Rs 10,450.25",
            "2000.00 INR", None, "2024-05-09",
        ),
        (
            "Sent Rs.500.00 from Kotak Bank AC X5678 to rameshkumar@okhdfcbank on 15-05-24.UPI Ref 412355556666.",
            "500.00 INR", Some("Rameshkumar"), "2024-05-15",
        ),
    ];
    for (text, want_money, want_merchant, want_date) in cases {
        let x = run(text, "INR");
        assert_eq!(format!("{} {}", x.amount, x.currency), want_money, "{text}");
        assert_eq!(x.merchant.as_deref(), want_merchant, "{text}");
        assert_eq!(x.date.unwrap().to_string(), want_date, "{text}");
        assert!(x.confidence >= 0.6, "{text}: {}", x.confidence);
    }
}

#[test]
fn other_bank_debits_are_expenses() {
    let cases = [
        (
            "Chase: You made a $42.17 transaction with TARGET on May 14, 2024 at 5:32 PM ET.",
            "42.17 USD",
            "Target",
        ),
        (
            "Barclays: £23.50 card payment to PRET A MANGER on 14/05. Balance £1,204.33.",
            "23.50 GBP",
            "Pret A Manger",
        ),
        (
            "Purchase of AED 155.00 with Card ending 4321 at CARREFOUR on 12-05-2024. Avl Bal AED 3,210.50",
            "155.00 AED",
            "Carrefour",
        ),
        ("Revolut: You paid €12.00 at Lime on 13 May", "12.00 EUR", "Lime"),
    ];
    for (text, want_money, want_merchant) in cases {
        let x = run(text, "USD");
        assert_eq!(format!("{} {}", x.amount, x.currency), want_money, "{text}");
        assert_eq!(x.merchant.as_deref(), Some(want_merchant), "{text}");
    }
}

#[test]
fn non_expenses_are_rejected_with_a_reason() {
    let cases = [
        (
            "Rs.5,000.00 credited to your A/c XX1234 on 14-05-24 by NEFT. Avl Bal Rs.25,000.00",
            "credit",
        ),
        (
            "Refund of Rs 349 for your order has been credited to your account",
            "credit",
        ),
        ("received 1500 from Rahul", "credit"),
        (
            "482913 is your OTP for txn of INR 2,499.00 at MYNTRA. Do not share it with anyone.",
            "OTP",
        ),
        ("Your one time password is 5521 for payment of Rs 300", "OTP"),
        (
            "Your a/c XX1234 balance is Rs 12,500.00 as on 14-May-24.",
            "balance alert",
        ),
        (
            "Get FLAT 50% OFF on your first order! Use code WELCOME50. T&C apply.",
            "promotion",
        ),
        (
            "Cashback up to Rs 500 on recharges above Rs 199! Hurry, offer valid till Sunday",
            "promotion",
        ),
        (
            "You have a pre-approved personal loan of Rs 3,00,000. Apply now!",
            "promotion",
        ),
        (
            "Txn of Rs 499 at NETFLIX declined due to insufficient funds",
            "failed or declined transaction",
        ),
        (
            "Your credit card bill of Rs 12,345 is due on 05-Jun. Min amount due Rs 620",
            "payment reminder",
        ),
    ];
    for (text, reason) in cases {
        assert_eq!(
            rejection(text),
            Rejection::NotAnExpense(reason.to_owned()),
            "{text}"
        );
    }
    assert_eq!(
        Rejection::NotAnExpense("credit".into()).to_string(),
        "not an expense: credit"
    );
}

// === adversarial input ===

#[test]
fn empty_and_blank_texts() {
    assert_eq!(rejection(""), Rejection::Empty);
    assert_eq!(rejection("   \n\t "), Rejection::Empty);
    assert_eq!(rejection("\u{0}\u{1}"), Rejection::Empty);
    assert_eq!(Rejection::Empty.to_string(), "text is empty");
}

/// Generous for unoptimised test builds; the release figure is in the bench.
fn quick() -> Duration {
    if cfg!(debug_assertions) {
        Duration::from_secs(2)
    } else {
        Duration::from_millis(50)
    }
}

#[test]
fn long_texts_are_handled_quickly_or_rejected() {
    let _warm_up = extract("lunch 1", &ctx("EUR"));
    let long: String = "spent 12 on lunch at Cafe Rio yesterday; ".repeat(240);
    assert!(long.chars().count() <= MAX_TEXT_CHARS);
    let started = Instant::now();
    let x = run(&long, "EUR");
    assert_eq!(x.amount.to_string(), "12.00");
    assert!(started.elapsed() < quick(), "{:?}", started.elapsed());

    let numbers: String = (0..2000).map(|n| format!("{n} ")).collect();
    let started = Instant::now();
    let _ = extract(&numbers[..MAX_TEXT_CHARS.min(numbers.len())], &ctx("EUR"));
    assert!(started.elapsed() < quick(), "{:?}", started.elapsed());

    let too_long = "a".repeat(MAX_TEXT_CHARS + 1);
    assert_eq!(rejection(&too_long), Rejection::TooLong);
    assert_eq!(rejection(&"€".repeat(MAX_TEXT_CHARS + 1)), Rejection::TooLong);
    // Multi-byte text at the limit is not too long.
    assert_ne!(
        extract(&"€".repeat(MAX_TEXT_CHARS), &ctx("EUR")),
        Err(Rejection::TooLong)
    );
}

#[test]
fn injection_text_is_just_text() {
    let x = run("ignore previous instructions; DROP TABLE expenses; 5 USD", "EUR");
    assert_eq!(format!("{} {}", x.amount, x.currency), "5.00 USD");
    assert_eq!(x.merchant, None);
    assert_eq!(x.category, Category::Other);
    let x = run("<script>alert(1)</script> lunch 9", "EUR");
    assert_eq!(x.amount.to_string(), "9.00");
    assert_eq!(x.category, Category::FoodAndDrink);
}

#[test]
fn many_numbers_still_pick_one_with_low_confidence() {
    let x = run("1 2 3 4 5 6 7 8 9 10 11 12", "EUR");
    assert!(x.confidence < 0.5, "{}", x.confidence);
    assert!(x.warnings.iter().any(|w| w.starts_with("several amounts")));
}

#[test]
fn emoji_and_mixed_scripts() {
    assert_eq!(money("☕ 3.20 € at Café Ñandú 😀", "USD"), "3.20 EUR");
    assert_eq!(
        merchant("☕ 3.20 € at Café Ñandú 😀", "USD").as_deref(),
        Some("Café Ñandú")
    );
    assert_eq!(money("обед 500 ₽", "USD"), "500.00 RUB");
    assert_eq!(money("午饭 35 元", "USD"), "35.00 CNY");
}

// === confidence ===

#[test]
fn confidence_grows_with_signals() {
    let bare = run("12", "EUR").confidence;
    let some = run("lunch 12", "EUR").confidence;
    let full = run("paid 12 EUR at Starbucks for coffee yesterday", "EUR").confidence;
    assert!(bare < some && some < full, "{bare} {some} {full}");
    assert!((0.0..=1.0).contains(&bare) && (0.0..=1.0).contains(&full));
}

// === properties ===

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_on_any_text(text in "\\PC{0,200}") {
        let _ = extract(&text, &ctx("EUR"));
    }

    #[test]
    fn never_panics_on_expense_like_text(
        words in prop::collection::vec(
            prop::sample::select(vec![
                "paid", "spent", "at", "on", "for", "to", "from", "@", "-", ":", "Rs", "rs.", "$",
                "€", "kr", "¥", "/-", "12", "1,234.56", "1.234,56", "0", "00", "99999999999999",
                "2.5k", "3rd", "May", "may", "the", "20th", "ago", "days", "last", "friday",
                "yesterday", "19/09", "2024-02-30", "31/02", "Starbucks", "KFC", "A/c", "XX1234",
                "debited", "credited", "OTP", "twenty", "a", "hundred", "and", "-", "🍕", "Ünïcödé",
                "1 234,56", "1,00,000", "lakh", "%", "7pm", "14:30", "x", "2x", "\u{a0}", "’",
            ]),
            0..30,
        ),
        default in prop::sample::select(vec!["USD", "EUR", "JPY", "BHD", "INR", "SEK", "CNY"]),
    ) {
        let text = words.join(" ");
        let c = ctx(default);
        if let Ok(x) = extract(&text, &c) {
            // Whatever it extracts is valid money at the currency's scale, never in the future.
            prop_assert_eq!(x.amount.scale(), x.currency.exponent());
            prop_assert!(x.amount > Decimal::ZERO);
            let _ = x.money();
            prop_assert!(x.date.is_none_or(|d| d <= c.reference_date));
            prop_assert!((0.0..=1.0).contains(&x.confidence));
        }
    }

    #[test]
    fn glued_numbers_are_amounts(units in 1u32..100_000, cents in 0u32..100) {
        let text = format!("lunch {units}.{cents:02} EUR");
        let x = extract(&text, &ctx("USD")).unwrap();
        prop_assert_eq!(x.amount.to_string(), format!("{units}.{cents:02}"));
        prop_assert_eq!(x.currency.code(), "EUR");
    }
}

/// Issue 14: bank messages in the languages of `data/languages.tsv`, read with the same code.
#[test]
fn bank_messages_in_several_languages() {
    let cases = [
        (
            "Покупка 1 250,00 ₽ PYATEROCHKA 14.05 Баланс: 12 345,67 ₽",
            "RUB",
            "1250.00",
            "RUB",
        ),
        (
            "VISA1234 14.05.24 12:30 Pokupka 500.00 RUB MAGNIT Ostatok 10000.00 RUB",
            "RUB",
            "500.00",
            "RUB",
        ),
        (
            "삼성카드 승인 45,300원 일시불 05/14 이마트 누적 320,000원",
            "KRW",
            "45300",
            "KRW",
        ),
        (
            "Compra aprobada por $350.00 en OXXO. Saldo disponible $4,500.00",
            "MXN",
            "350.00",
            "MXN",
        ),
        (
            "QJK3ABC123 Confirmed. Ksh1,000.00 paid to JAVA HOUSE. New M-PESA balance is Ksh2,345.00.",
            "KES",
            "1000.00",
            "KES",
        ),
        (
            "Umelipa Ksh 250 kwa NAIVAS. Salio lako ni Ksh 1,595",
            "KES",
            "250.00",
            "KES",
        ),
    ];
    for (text, default, amount, currency) in cases {
        assert_eq!(money(text, default), format!("{amount} {currency}"), "{text}");
    }
}

#[test]
fn non_expenses_in_several_languages_are_refused() {
    for text in [
        "Отказ. Покупка 3000р. Недостаточно средств. Карта *1234",
        "Зачисление 15000р. Баланс 20000р",
        "Код подтверждения 123456 для оплаты 990 руб. Никому не сообщайте",
        "Postuplenie 12 000.00 RUB; Karta *5521; Ostatok: 27 300.00 RUB",
        "KB국민카드 승인거절 잔액부족 30,000원 05/14",
        "하나카드 해외승인취소 USD 42.50 AMAZON.COM 04/11",
        "[Web발신] 신한카드 4월 결제예정금액 1,284,560원 (결제일 04/25)",
        "Tu compra por $899.00 en LIVERPOOL fue rechazada por fondos insuficientes",
        "Recibiste un abono de $5,000.00 en tu cuenta terminación 5678",
        "Umepokea Ksh 1,500 kutoka kwa PETER OTIENO. Salio lako ni Ksh 3,095",
        "Cashback of $5.20 credited to your card ending 0417 for your purchase at TARGET.",
        "Your Netflix subscription will renew on 01/15 for $15.49.",
        "Your Lyft code is 744444",
        "WhatsApp code 507-240",
    ] {
        assert!(
            matches!(
                extract(text, &ctx("USD")),
                Err(Rejection::NotAnExpense(_) | Rejection::NoAmount)
            ),
            "{text}: {:?}",
            extract(text, &ctx("USD"))
        );
    }
}

#[test]
fn a_biller_confirming_your_payment_is_an_expense() {
    let text = "Telstra: Thanks, your payment of $89.00 for account 3022xxxx was received on 18/06/2025.";
    assert_eq!(money(text, "AUD"), "89.00 AUD");
}

#[test]
fn low_confidence_is_flagged() {
    for text in [
        "5 stuff",
        "spent 250 on lunch at Subway yesterday",
        "paid $4.75 at Blue Bottle",
    ] {
        let x = run(text, "USD");
        let flagged = x.warnings.iter().any(|w| w.starts_with("low confidence"));
        assert_eq!(flagged, x.confidence < super::LOW_CONFIDENCE, "{text}: {x:?}");
    }
    assert!(run("5 stuff", "USD").confidence < super::LOW_CONFIDENCE);
}

// === second pass (issue 14): statement rows, labels, rails, scripts ===

#[test]
fn statement_rows_marked_as_money_in_are_refused() {
    for text in [
        "2018-03-14  +50,00  Loterij Organisatie B.V.  Gewonnen",
        "31/03/2025  RETURN:  SOME SHOP  CHN  CN  25.00  CNY  CREDIT",
        "13/06  VIREMENT SEPA  EVI MUTUELLE  16,50 (crédit)",
        "24/03/2025  PAYMENT - THANK YOU  3,266.16  CNY",
        "Your credit card bill of Rs.2,500.00 has been paid successfully via autopay.",
        "2019-04-16 10:28:55  零钱充值  工商银行(9876)  /  ¥1300.00  充值完成",
        "2023-02-04 18:21:04  退款  亲情卡  16.03  交通银行信用卡(7449)  退款成功",
    ] {
        assert!(
            matches!(extract(text, &ctx("EUR")), Err(Rejection::NotAnExpense(_))),
            "{text}"
        );
    }
    // A balance marked CR is no credit of the amount.
    let x = run(
        "Your Acct 301XXXX678 Has Been Debited with NGN3,500.00 On 01-Jul-2026 By IKEJA ELECTRIC/PREPAID TOKEN. Bal: NGN20,817.22CR",
        "NGN",
    );
    assert_eq!(x.amount.to_string(), "3500.00");
}

#[test]
fn iso_codes_name_one_currency() {
    assert_eq!(
        money("07/04/2025  SALES:  NOODLE HOUSE  CHN  -27.90  CNY  DEBIT", "HKD"),
        "27.90 CNY"
    );
    assert_eq!(money("paid 500 INR for the cab", "PKR"), "500.00 INR");
    // A word several currencies share follows the user's default.
    assert_eq!(
        money("خريد با کارت مبلغ : 9,230,000ريال", "IRR")
            .split(' ')
            .nth(1),
        Some("IRR")
    );
}

#[test]
fn east_asian_and_canadian_dates_are_month_first() {
    let x = |text: &str, cur: &str| extract(text, &ctx(cur)).unwrap().date.map(|d| d.to_string());
    assert_eq!(
        x("하나카드 승인 04/03 11:20 64,500원 일시불 홈플러스", "KRW").as_deref(),
        Some("2024-04-03")
    );
    assert_eq!(
        x("05/01/2024,CORNER STORE,12.10,,15.00", "CAD").as_deref(),
        Some("2024-05-01")
    );
    assert_eq!(
        x("05/01/2024 CORNER STORE 12.10", "EUR").as_deref(),
        Some("2024-01-05")
    );
    // Compact statement dates.
    assert_eq!(
        x("'5678650000004124',DEBIT,20240318,-68.32,[CW]CITY WATER", "CAD").as_deref(),
        Some("2024-03-18")
    );
}

#[test]
fn labelled_payee_fields_name_the_merchant() {
    assert_eq!(
        merchant(
            "Amount:   $456.78\nDate:   March 24, 2024\nWhere:  GREEN LEAF OUTFITTERS #11 SEATTLE WA",
            "USD"
        )
        .as_deref(),
        Some("Green Leaf Outfitters")
    );
    assert_eq!(
        merchant(
            "Hora: 15:33:30\nValor Transacción: 18,000\nLugar de Transacción: PANADERIA LA ESPIGA\n",
            "COP"
        )
        .as_deref(),
        Some("Panaderia La Espiga")
    );
    // A field label followed by a time, or a bank signing its message, is no merchant.
    assert_eq!(merchant("Hora: 15:33:30 Valor: 18,000", "COP"), None);
    let x = run("BANCOX: Pago de $1,299.00 realizado el 14/05/2024", "MXN");
    assert_eq!(x.merchant, None);
}

#[test]
fn rail_narrations_name_the_payee_without_a_label() {
    assert_eq!(
        merchant(
            "INR 726.00 debited A/c no. XX1234 05-05-24, 10:19:49 UPI/P2M/000000000000/ASHA VERMA Not you? SMS BLOCKUPI to 919900000000",
            "INR"
        )
        .as_deref(),
        Some("Asha Verma")
    );
}

#[test]
fn a_merchant_on_its_own_line_of_an_alert() {
    assert_eq!(
        merchant(
            "Spent INR 123.45\nKotak Card no. XX0000\n02-05-24 19:53:18 IST\nBlue Door Bakery\nAvl Limit: INR 99,999.99\nNot you? SMS BLOCK 0000 to 9999999999",
            "INR"
        )
        .as_deref(),
        Some("Blue Door Bakery")
    );
    // A name on the next line of an alert does not run into the one after it.
    assert_eq!(
        merchant(
            "Compra aprobada\n$45.000\nPANADERIA LA ESPIGA\nTARJETA ****1234",
            "COP"
        )
        .as_deref(),
        Some("Panaderia La Espiga")
    );
}

#[test]
fn glued_scripts_find_keywords_and_brands_inside_tokens() {
    let x = run(
        "2024-05-01 12:45:27  商户消费  云南过桥米线(广场店)  支出  ¥28.16",
        "CNY",
    );
    assert_eq!(x.category, Category::FoodAndDrink);
    let x = run(
        "2024-05-02  消费  网银在线-京东商城业务CHN  支出 68.19  CNY",
        "CNY",
    );
    assert_eq!(x.merchant.as_deref(), Some("京东"));
    assert_eq!(x.category, Category::Shopping);
}

#[test]
fn a_fee_labelling_another_number_says_nothing_of_the_purpose() {
    let x = run(
        "Sent UGX 20,000 to 256752000222 JANE DOE. Fee: UGX 500. Bal: UGX 107,300.",
        "UGX",
    );
    assert_eq!(x.amount.to_string(), "20000");
    assert_ne!(x.category, Category::FeesAndCharges);
}

#[test]
fn requests_to_pay_through_a_link_are_refused() {
    for text in [
        "URGENT: Your parcel is held. Pay a £2.99 redelivery fee at parcel-redeliver.example",
        "Correios: sua encomenda foi taxada em R$ 19,90. Pague a taxa via Pix em rastreio-entrega.site",
        "Paket wartet: Bitte zahlen Sie 1,99 € Zollgebühr unter paket-zustellung.info",
    ] {
        assert!(
            matches!(extract(text, &ctx("EUR")), Err(Rejection::NotAnExpense(_))),
            "{text}"
        );
    }
    // A real debit that offers a link to dispute it stays an expense.
    let x = run(
        "Your bill of Rs. 49.00 at StreamBox Monthly has been cleared with your Credit Card ending in XX0000. To dispute this payment, click: m.example.in/d",
        "INR",
    );
    assert_eq!(x.amount.to_string(), "49.00");
}

#[test]
fn signed_debits_are_expenses_despite_a_balance() {
    let x = run(
        "Techcombank: -89,000VND 12/03/24 19:22 tai CIRCLE K VIETNAM. So du: 2,310,000VND",
        "VND",
    );
    assert_eq!(x.amount.to_string(), "89000");
    assert!(matches!(
        extract(
            "Jordan Lee sent you $40.00 for utilities. Your balance is $112.35.",
            &ctx("USD")
        ),
        Err(Rejection::NotAnExpense(_))
    ));
}

#[test]
fn export_rows_and_payees_after_the_amount() {
    assert_eq!(
        merchant(
            "04.07.2022;NORDFUEL VIIMSI         \\MUULI TEE 2;D;14,10;02/07/2022 22:13 kaart...075740;EUR",
            "EUR"
        )
        .as_deref(),
        Some("Nordfuel Viimsi")
    );
    assert_eq!(
        merchant("05.07.2022;DORMIKOR OÜ;D;2,85;Tellimus 458926-2INT1;EUR", "EUR").as_deref(),
        Some("Dormikor")
    );
    assert!(matches!(
        extract("06.07.2022;ANNA TAMM;C;30,00;Inv;EUR", &ctx("EUR")),
        Err(Rejection::NotAnExpense(_))
    ));
    assert_eq!(
        merchant("Pagaste $ 4.500 a Verduleria Sol con tu dinero en cuenta.", "ARS").as_deref(),
        Some("Verduleria Sol")
    );
    assert_eq!(
        merchant(
            "Du har betalt 45,00 kr til Bageriet Hjørnet den 12.03.2024",
            "DKK"
        )
        .as_deref(),
        Some("Bageriet Hjørnet")
    );
    assert_eq!(
        merchant("25.09.2017  INTERNET-Überweisung Karla Berger  -45,00 EUR", "EUR").as_deref(),
        Some("Karla Berger")
    );
    // Cash from a machine names no merchant.
    assert_eq!(
        merchant(
            "15/03/2025  ATM WITHDRAWAL           NORTH BRANCH  -1000.00  HKD",
            "HKD"
        ),
        None
    );
}

// === issue 14, third pass ===

#[test]
fn sepa_remittance_lines_name_the_payee_field() {
    let cases = [
        (
            "2019-07-02  /IBAN/NL00TEST0123456789/NAME/Adyen collecting for Coolblue B.V./REMI/000012345 Order 77  -59,99 EUR",
            "Coolblue",
        ),
        ("2019-07-03  /NAME/www.fietsplus.nl/REMI/www.fietsplus.nl Utrecht, NL  -12,5 EUR", "Fietsplus"),
        ("2019-07-04  /NAME/SPY*SEPAY-Kapsalon Noor/REMI/SPY*SEPAY-Kapsalon Noor Utrecht, NL  -22, EUR", "Kapsalon Noor"),
        ("2019-07-05  /IBAN/NL00TEST0123456789/NAME/Stichting Pay.nl inzake Fietsenwinkel B.V./REMI/123  -80,00 EUR", "Fietsenwinkel"),
    ];
    for (text, want) in cases {
        assert_eq!(merchant(text, "EUR").as_deref(), Some(want), "{text}");
    }
}

#[test]
fn a_card_code_after_a_country_code_is_no_merchant() {
    // Austrian POS lines: "<amount> AT K2 <date> <time> <merchant>" (AT the country, K2 the card).
    let text = "03.10.2017  POS          14,20 AT  K3   03.10. 12:01 BILLA DANKT 1234 WIEN 1010  -14,20 EUR";
    assert_ne!(merchant(text, "EUR").as_deref(), Some("K3"));
}

#[test]
fn moving_money_to_own_savings_or_paying_the_card_bill_is_refused() {
    for text in [
        "Rs. 5,000.00 transferred to your RD A/c No. XX1234 via NetBanking. Not you? Call 1800",
        "QK12AB34 Confirmed. Ksh200.00 transferred to M-Shwari account on 02/03/24 at 9:10 AM.",
        "Ihre Zahlung von 120,00 EUR zur Kreditkartenrechnung ist eingegangen.",
        "Yapi Kredi: Kredi karti borcunuza 1.200,00 TL odeme yapilmistir.",
        "Loan of Ksh 300.00 drawn. Interest charged Ksh3.00. Total outstanding Ksh303.00 due on 01/04/24.",
        "Your electricity bill of Rs 840 is due on 12/05. Please ignore if paid.",
        "05/03/2025  INTEREST CREDIT  1.20  HKD",
        "07/03/2025  FUND TRANSFER FROM   12-345678-9 MARY LEE  80.00  HKD",
    ] {
        assert!(
            matches!(extract(text, &ctx("USD")), Err(Rejection::NotAnExpense(_))),
            "{text}: {:?}",
            extract(text, &ctx("USD"))
        );
    }
    // Money sent to someone from your account stays an expense.
    let x = run(
        "Rs.500.00 sent from your A/c XX1234 to VPA ramesh@okaxis on 12-05-24. Ref 412345678901",
        "INR",
    );
    assert_eq!(x.amount.to_string(), "500.00");
}

// === issue 14, round 4: kinds found on the round-4 dev split ===

#[test]
fn card_and_account_numbers_of_any_language_are_not_amounts() {
    // A card word of the language data right before the number, or leading zeros.
    let cases = [
        (
            "02/05/24  PRELIEVO POSTAMAT ATM UFFICIO POSTALE ROMA CARTA 11111  -200.00",
            "EUR",
            "200.00 EUR",
        ),
        ("Pokupka 350.00 RUB karta 44190 MAGNIT", "RUB", "350.00 RUB"),
        (
            "TK 0011004 -250,000VND luc 05-05-2024. ND: THANH TOAN CAFE",
            "VND",
            "250000 VND",
        ),
    ];
    for (text, default, want) in cases {
        assert_eq!(money(text, default), want, "{text}");
    }
}

#[test]
fn a_dotted_clock_after_a_date_is_a_time() {
    assert_eq!(
        money(
            "02/05/24  PRELIEVO 24/04/2024 08.21 ATM UFFICIO POSTALE  -200.00",
            "EUR"
        ),
        "200.00 EUR"
    );
    // Without a date before it, "12.50" is still money.
    assert_eq!(money("lunch 12.50", "EUR"), "12.50 EUR");
}

#[test]
fn day_month_and_short_year() {
    // "05 Mar 24" is 5 March 2024, not 24 March of last year.
    let x = run(
        "Spent SGD 23.40 at GRABFOOD on 05 May 24 using card ending 8812.",
        "SGD",
    );
    assert_eq!(x.date.map(|d| d.to_string()).as_deref(), Some("2024-05-05"));
    // "lunch 12 May 3": 12 is money and May 3 the date.
    assert_eq!(money("lunch 12 May 3", "EUR"), "12.00 EUR");
}

#[test]
fn a_fee_heading_a_row_is_spent_even_on_a_transfer_to_ones_own_card() {
    let fee = "13/05/24  COMMISSIONE RICARICA PREPAGATA ADDEBITO IN CONTO Ricarica Postepay  -1.00";
    let x = run(fee, "EUR");
    assert_eq!(x.amount.to_string(), "1.00");
    assert_eq!(x.category, Category::FeesAndCharges);
    let top_up = "13/05/24  ADDEBITO PER RICARICA CARTA PREPAGATA Ricarica Postepay  -250.00";
    assert!(matches!(
        extract(top_up, &ctx("EUR")),
        Err(Rejection::NotAnExpense(_))
    ));
}

#[test]
fn ukrainian_alerts_are_read_and_refused_by_their_words() {
    let x = run(
        "Списання 215.00 UAH Київстар, картка *8812, 05.05.2024. Доступно 1 904.10 UAH",
        "UAH",
    );
    assert_eq!(format!("{} {}", x.amount, x.currency), "215.00 UAH");
    assert_eq!(x.category, Category::Utilities);
    assert!(matches!(
        extract(
            "Зарахування 8 000.00 UAH від ОЛЕНА К. Картка *4412. Баланс 13 120.44 UAH",
            &ctx("UAH")
        ),
        Err(Rejection::NotAnExpense(_))
    ));
}
