//! The checkboxes that say who belongs to a group (a queue, a translator
//! organisation): one per person, `members[i]` = their id, the field the
//! membership server functions read.

use leptos::prelude::*;

/// One person in the list: id, label, whether they belong now.
pub type Member = (String, String, bool);

#[component]
pub fn MemberBoxes(
    /// Makes the checkbox ids unique on the page (one list per group).
    group: String,
    people: Vec<Member>,
) -> impl IntoView {
    people
        .into_iter()
        .enumerate()
        .map(|(i, (id, label, checked))| {
            let input = format!("{group}-{id}");
            view! {
                <div class="check">
                    <input type="checkbox" id=input.clone() name=format!("members[{i}]") value=id checked=checked/>
                    <label for=input>{label}</label>
                </div>
            }
        })
        .collect_view()
}
