//! The one question every server function and route asks first: may this
//! caller do this action to this resource? Kept as a pure function so the
//! whole policy is a table in the tests below.

use crate::consultation::{ConsultationFacts, ConsultationId, ParticipantRole, QueueId, Visitor};
use crate::domain::{Principal, Role, UserId};

/// Who is asking: a signed-in staff member, or someone who came in through
/// an invite link and holds one place in one consultation.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    Staff(&'a Principal),
    Visitor(&'a Visitor),
}

impl<'a> Caller<'a> {
    /// Who is asking about consultation `id` when a browser may hold both a
    /// link session and a staff session: the visitor whose place is in that
    /// consultation, else the staff member, else the other visitor (whom the
    /// policy will refuse).
    pub fn for_consultation(
        visitor: Option<&'a Visitor>,
        staff: Option<&'a Principal>,
        id: &ConsultationId,
    ) -> Option<Self> {
        match (visitor, staff) {
            (Some(v), _) if v.consultation == *id => Some(Caller::Visitor(v)),
            (_, Some(p)) => Some(Caller::Staff(p)),
            (Some(v), None) => Some(Caller::Visitor(v)),
            (None, None) => None,
        }
    }
}

/// Something a person can try to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// See the clinician dashboard.
    ViewDashboard,
    /// List staff accounts.
    ListUsers,
    /// Create a staff account.
    CreateUser,
    /// Disable or re-enable an account.
    DisableUser,
    /// Set someone else's password.
    ResetPassword,
    /// Change one's own password.
    ChangeOwnPassword,
    /// Create, rename queues and say who works in them.
    ManageQueues,
    /// Create translator organisations and say who belongs to them.
    ManageTranslators,
    /// See how email and text messages are set up, test them, read the
    /// development outbox.
    ManageMessaging,
    /// Create, list and revoke the REST API's keys.
    ManageApiKeys,
    /// Read the audit trail (sign-ins, who saw what).
    ViewAudit,
    /// See the sign-in methods and try them.
    ManageSignIn,
    /// See a queue's day list (names, times, who waits).
    ViewQueue,
    /// Book a consultation in a queue.
    CreateConsultation,
    /// See one consultation's state (not its clinical content).
    ViewConsultation,
    /// Re-issue links, cancel, reschedule: the booking side.
    ManageBooking,
    /// Admit, remove, invite, write notes, close, get the report.
    RunConsultation,
    /// Read and write the chat and its files.
    Chat,
    /// Enter the waiting room or leave it (one's own place).
    Wait,
    /// See and accept requests for a translator of a language.
    Translate,
}

/// What the action is done to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// The installation as a whole.
    System,
    /// One staff account.
    User(UserId),
    /// One queue (department).
    Queue(QueueId),
    /// One consultation.
    Consultation(ConsultationFacts),
    /// Translation into one language (a code like `fr`).
    Language(String),
}

/// Why a request was refused; worded for the person who made it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("Please sign in first.")]
    NotSignedIn,
    #[error("You are not allowed to do this.")]
    Forbidden,
}

/// Roles that take care of patients.
fn is_clinician(who: &Principal) -> bool {
    who.has_role(Role::Doctor) || who.has_role(Role::Nurse)
}

/// Roles that work a queue: clinicians and the schedulers who book for them.
fn works_queues(who: &Principal) -> bool {
    is_clinician(who) || who.has_role(Role::Scheduler)
}

fn in_queue(who: &Principal, queue: &QueueId) -> bool {
    who.queues.contains(queue)
}

pub fn authorize(
    caller: Option<Caller<'_>>,
    action: Action,
    resource: &Resource,
) -> Result<(), Denied> {
    let allowed = match caller.ok_or(Denied::NotSignedIn)? {
        Caller::Staff(who) => staff_may(who, action, resource),
        Caller::Visitor(visitor) => visitor_may(visitor, action, resource),
    };
    if allowed {
        Ok(())
    } else {
        Err(Denied::Forbidden)
    }
}

fn staff_may(who: &Principal, action: Action, resource: &Resource) -> bool {
    let is_admin = who.has_role(Role::Admin);
    match (action, resource) {
        (Action::ViewDashboard, Resource::System) => !who.roles.is_empty(),
        (
            Action::ListUsers
            | Action::CreateUser
            | Action::ManageQueues
            | Action::ManageTranslators
            | Action::ManageMessaging
            | Action::ManageApiKeys
            | Action::ViewAudit
            | Action::ManageSignIn,
            Resource::System,
        ) => is_admin,
        // An admin may not lock themselves out by disabling their own account.
        (Action::DisableUser, Resource::User(target)) => is_admin && *target != who.user_id,
        // Setting one's own password goes through ChangeOwnPassword, which asks
        // for the current one: a borrowed admin session cannot take the account.
        (Action::ResetPassword, Resource::User(target)) => is_admin && *target != who.user_id,
        (Action::ChangeOwnPassword, Resource::User(target)) => *target == who.user_id,
        (Action::ViewQueue | Action::CreateConsultation, Resource::Queue(queue)) => {
            works_queues(who) && in_queue(who, queue)
        }
        (Action::Translate, Resource::Language(code)) => {
            who.has_role(Role::Translator) && who.languages.iter().any(|l| l == code)
        }
        (action, Resource::Consultation(c)) => {
            let of_my_queue = in_queue(who, &c.queue);
            // Translators and colleagues asked into this one consultation.
            let has_a_place = c.staff_participants.contains(&who.user_id);
            match action {
                Action::ViewConsultation => (works_queues(who) && of_my_queue) || has_a_place,
                Action::ManageBooking => works_queues(who) && of_my_queue,
                Action::RunConsultation => is_clinician(who) && of_my_queue,
                // An admin reads no chat unless also a clinician of the queue.
                Action::Chat => (is_clinician(who) && of_my_queue) || has_a_place,
                _ => false,
            }
        }
        _ => false,
    }
}

fn visitor_may(visitor: &Visitor, action: Action, resource: &Resource) -> bool {
    let Resource::Consultation(c) = resource else {
        return false;
    };
    if c.id != visitor.consultation {
        return false;
    }
    let admitted = c.admitted.contains(&visitor.participant);
    match action {
        Action::ViewConsultation => true,
        Action::Wait => !c.status.is_over(),
        Action::Chat => admitted && !c.status.is_over(),
        // A clinician without an account hosts by their link (the REST API's
        // doctorLink): this one consultation, while they are in it. Notes and
        // the report stay theirs after closing, as for staff.
        Action::RunConsultation => visitor.role == ParticipantRole::Host && admitted,
        _ => false,
    }
}

/// The facts of a consultation nobody is in yet; for tests and callers
/// that only know the id and queue.
pub fn facts(id: &ConsultationId, queue: &QueueId) -> ConsultationFacts {
    ConsultationFacts {
        id: id.clone(),
        queue: queue.clone(),
        status: crate::consultation::ConsultationStatus::Scheduled,
        admitted: Vec::new(),
        staff_participants: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consultation::DEFAULT_QUEUE;

    fn person(id: &str, roles: &[Role]) -> Principal {
        Principal {
            user_id: UserId(id.into()),
            email: format!("{id}@h.org"),
            name: id.into(),
            roles: roles.to_vec(),
            queues: vec![QueueId(DEFAULT_QUEUE.into())],
            languages: vec!["ar".into()],
        }
    }

    /// The whole policy, one row per (role, action, resource): expected answer.
    #[test]
    fn policy_matrix() {
        let me = UserId("me".into());
        let other = UserId("other".into());
        let admin_only = [Action::ListUsers, Action::CreateUser];
        for role in Role::ALL {
            let p = person("me", &[role]);
            let is_admin = role == Role::Admin;
            assert!(
                authorize(
                    Some(Caller::Staff(&p)),
                    Action::ViewDashboard,
                    &Resource::System
                )
                .is_ok(),
                "{role}"
            );
            for action in admin_only {
                assert_eq!(
                    authorize(Some(Caller::Staff(&p)), action, &Resource::System).is_ok(),
                    is_admin,
                    "{role} {action:?}"
                );
            }
            assert_eq!(
                authorize(
                    Some(Caller::Staff(&p)),
                    Action::DisableUser,
                    &Resource::User(other.clone())
                )
                .is_ok(),
                is_admin,
                "{role} disable other"
            );
            assert!(
                authorize(
                    Some(Caller::Staff(&p)),
                    Action::DisableUser,
                    &Resource::User(me.clone())
                )
                .is_err(),
                "{role} disable self"
            );
            assert_eq!(
                authorize(
                    Some(Caller::Staff(&p)),
                    Action::ResetPassword,
                    &Resource::User(other.clone())
                )
                .is_ok(),
                is_admin,
                "{role} reset other"
            );
            assert!(
                authorize(
                    Some(Caller::Staff(&p)),
                    Action::ResetPassword,
                    &Resource::User(me.clone())
                )
                .is_err(),
                "{role} reset self"
            );
            assert!(
                authorize(
                    Some(Caller::Staff(&p)),
                    Action::ChangeOwnPassword,
                    &Resource::User(me.clone())
                )
                .is_ok()
            );
            assert_eq!(
                authorize(
                    Some(Caller::Staff(&p)),
                    Action::ChangeOwnPassword,
                    &Resource::User(other.clone())
                ),
                Err(Denied::Forbidden)
            );
            // Actions aimed at the wrong kind of resource are refused, never guessed.
            assert!(
                authorize(
                    Some(Caller::Staff(&p)),
                    Action::ViewDashboard,
                    &Resource::User(me.clone())
                )
                .is_err()
            );
        }
    }

    #[test]
    fn nobody_signed_in_may_do_nothing() {
        for action in [
            Action::ViewDashboard,
            Action::ListUsers,
            Action::CreateUser,
            Action::DisableUser,
            Action::ResetPassword,
            Action::ChangeOwnPassword,
        ] {
            assert_eq!(
                authorize(None, action, &Resource::System),
                Err(Denied::NotSignedIn)
            );
        }
    }

    #[test]
    fn an_account_without_roles_sees_nothing() {
        let p = person("me", &[]);
        assert_eq!(
            authorize(
                Some(Caller::Staff(&p)),
                Action::ViewDashboard,
                &Resource::System
            ),
            Err(Denied::Forbidden)
        );
    }

    #[test]
    fn a_clinician_hosting_by_link_runs_only_their_consultation_once_in() {
        use crate::consultation::{ConsultationStatus, ParticipantId, Visitor};
        use crate::i18n::Lang;
        let mine = ConsultationId("mine".into());
        let visitor = |role| Visitor {
            participant: ParticipantId("p1".into()),
            consultation: mine.clone(),
            role,
            name: "Dr Link".into(),
            language: Lang::default(),
        };
        let facts = |id: &ConsultationId, admitted: bool| {
            Resource::Consultation(ConsultationFacts {
                id: id.clone(),
                queue: QueueId(DEFAULT_QUEUE.into()),
                status: ConsultationStatus::Active,
                admitted: if admitted {
                    vec![ParticipantId("p1".into())]
                } else {
                    Vec::new()
                },
                staff_participants: Vec::new(),
            })
        };
        let host = visitor(ParticipantRole::Host);
        let run = |v: &Visitor, r: &Resource| {
            authorize(Some(Caller::Visitor(v)), Action::RunConsultation, r).is_ok()
        };
        assert!(run(&host, &facts(&mine, true)));
        assert!(!run(&host, &facts(&mine, false)), "not before they are in");
        assert!(!run(&host, &facts(&ConsultationId("other".into()), true)));
        for role in [
            ParticipantRole::Patient,
            ParticipantRole::Guest,
            ParticipantRole::Translator,
            ParticipantRole::Colleague,
        ] {
            assert!(!run(&visitor(role), &facts(&mine, true)), "{role:?}");
        }
        // Nothing beyond the consultation: no booking, no dashboard.
        for action in [Action::ManageBooking, Action::ViewDashboard] {
            assert!(authorize(Some(Caller::Visitor(&host)), action, &facts(&mine, true)).is_err());
        }
    }
}
