//! Categories: a known merchant's category weighed against keywords in the text.
//!
//! Weights (doubled to stay integral): a strong merchant 7, a weak one (general stores
//! such as Amazon or Walmart) 2, a keyword 2 × its weight (1..=4). So "salad at Coop" is
//! groceries (7 against 4), "medicine at Walmart" is health (6 against 2), and "gifts at
//! Tiger" is gifts (8 against 7). Ties go to whatever was mentioned first.

use domain::Category;

use super::language::{is_glued_script, Roles};
use super::lexicon::LEXICON;
use super::merchant::Found;
use super::{Analysis, Role};

/// Where the category came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Merchant,
    Keyword,
    Default,
}

pub(crate) fn categorize(a: &Analysis, merchant: Option<&Found>) -> (Category, Source) {
    let mut score = [0u32; 15];
    let mut first_seen = [usize::MAX; 15];
    let mut from_merchant = [false; 15];
    let mut add = |c: Category, w: u32, pos: usize, merchant: bool| {
        let k = c as usize;
        score[k] += w;
        first_seen[k] = first_seen[k].min(pos);
        from_merchant[k] |= merchant;
    };

    let known = merchant.and_then(|m| m.known.map(|k| (m, k)));
    if let Some((m, k)) = known {
        if k.category != Category::Other {
            add(k.category, if k.strong { 7 } else { 2 }, m.first, true);
        }
    }
    let tokens = &a.tokens;
    let mut i = 0;
    while i < tokens.len() {
        // A known merchant's own words are its category already ("Pizza Hut").
        if let Some((m, _)) = known {
            if (m.first..=m.last).contains(&i) {
                i = m.last + 1;
                continue;
            }
        }
        if matches!(a.roles[i], Role::Amount | Role::Currency | Role::Time) {
            i += 1;
            continue;
        }
        // A fee word labelling a number that is not the amount ("Fee: Tsh 350" after a
        // transfer) says nothing of what the amount bought.
        let (roles, len) = a.words[i];
        // A fee word heading a statement row with no number of its own ("COMMISSIONE
        // RICARICA …  -1.00") is the purpose itself.
        let window = i + len..(i + len + 4).min(tokens.len());
        if roles.has(Roles::FEE)
            && !window.clone().any(|k| a.roles[k] == Role::Amount)
            && window
                .clone()
                .any(|k| tokens[k].is_num() || a.roles[k] == Role::Currency)
        {
            i += len;
            continue;
        }
        // A bank phrase of several words ("INTERNET-Überweisung", "card payment") is no
        // purpose either.
        if len > 1 && !roles.is_empty() {
            i += len;
            continue;
        }
        match LEXICON.keywords.longest_at(tokens, i, true) {
            Some(hit) => {
                for kw in hit.value {
                    add(kw.category, 2 * u32::from(kw.weight), i, false);
                }
                i += hit.len;
            }
            None => {
                if tokens[i].is_word() && tokens[i].raw.chars().any(is_glued_script) {
                    // "云膳过桥米线(传奇广场店)": keywords inside a glued token.
                    LEXICON.glued_keywords.scan(&tokens[i].lower, |kws| {
                        for kw in kws {
                            add(kw.category, 2 * u32::from(kw.weight), i, false);
                        }
                    });
                }
                i += 1;
            }
        }
    }

    // "Berlin to Munich": a trip between places is travel, a little.
    if is_route(a) {
        add(Category::Travel, 3, usize::MAX - 1, false);
    }

    let best = (0..15)
        .filter(|&k| score[k] > 0 && Category::ALL[k] != Category::Other)
        .max_by(|&x, &y| score[x].cmp(&score[y]).then(first_seen[y].cmp(&first_seen[x])));
    match best {
        Some(k) => {
            let source = if from_merchant[k] {
                Source::Merchant
            } else {
                Source::Keyword
            };
            (Category::ALL[k], source)
        }
        None => (Category::Other, Source::Default),
    }
}

/// A capitalised place, "to", and another capitalised place ("Malmö to Copenhagen").
fn is_route(a: &Analysis) -> bool {
    if a.style.shouting || a.style.title_case {
        return false;
    }
    let t = &a.tokens;
    (2..t.len().saturating_sub(1)).any(|i| {
        t[i].is_word()
            && t[i].lower == "to"
            && t[i - 1].is_capitalized()
            && t[i + 1].is_capitalized()
            && a.roles[i - 1] == Role::Free
            && a.roles[i + 1] == Role::Free
    })
}
