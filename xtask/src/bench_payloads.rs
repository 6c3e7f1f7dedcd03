//! The webhook bodies the ingest benchmark sends: the entities Clockify's
//! deliveries carry, shaped by the contract's schemas (`TimeEntryWithRatesDtoV1`,
//! `ProjectDtoV1`, `TagDtoV1`, `UserDtoV1`) with the nested objects real
//! deliveries add beside them. A unit test decodes each as its contract type,
//! and the benchmark reads the gateway's typed-payload counter, so a body that
//! stopped fitting would be seen, not silently measured as raw JSON.

/// One event of the mix: how often it is sent and how its `n`th body looks.
pub struct Sample {
    pub event: &'static str,
    /// Out of [`WEIGHT_TOTAL`] deliveries.
    pub weight: u64,
    pub body: fn(ws: &str, n: u64) -> String,
}

/// Time entries are the events Clockify sends most (every start, stop and
/// edit of a timer); projects, tags and members change far less often.
pub const MIX: [Sample; 5] = [
    Sample { event: "NEW_TIME_ENTRY", weight: 5, body: time_entry },
    Sample { event: "TIME_ENTRY_UPDATED", weight: 2, body: time_entry },
    Sample { event: "NEW_PROJECT", weight: 1, body: project },
    Sample { event: "NEW_TAG", weight: 1, body: tag },
    Sample { event: "USER_JOINED_WORKSPACE", weight: 1, body: user },
];

pub const WEIGHT_TOTAL: u64 = 10;

/// The sample of the `n`th delivery of the mix.
pub fn nth(n: u64) -> &'static Sample {
    let mut slot = n % WEIGHT_TOTAL;
    for s in &MIX {
        if slot < s.weight {
            return s;
        }
        slot -= s.weight;
    }
    &MIX[0]
}

/// A time entry as a delivery carries it (about 1.4 KB): tags, two custom
/// fields (text and dropdown), an interval, rates, and the project and tag objects.
pub fn time_entry(ws: &str, n: u64) -> String {
    format!(
        r##"{{"id":"65f1c0de{n:016x}","description":"Sprint review with the platform team","tagIds":["64a1b2c3d4e5f60718293a4b","64a1b2c3d4e5f60718293a4c","64a1b2c3d4e5f60718293a4d"],"userId":"5e4117fe8c625f38930d57b7","billable":true,"taskId":"64b2c3d4e5f60718293a4b5c","projectId":"64c3d4e5f60718293a4b5c6d","workspaceId":"{ws}","timeInterval":{{"start":"2026-12-04T08:30:00Z","end":"2026-12-04T10:15:00Z","duration":"PT1H45M"}},"customFieldValues":[{{"customFieldId":"64d4e5f60718293a4b5c6d7e","timeEntryId":"65f1c0de{n:016x}","value":"INV-2026-118","name":"Invoice reference","type":"TXT"}},{{"customFieldId":"64d4e5f60718293a4b5c6d7f","timeEntryId":"65f1c0de{n:016x}","value":"Berlin office","name":"Location","type":"DROPDOWN_SINGLE"}}],"hourlyRate":{{"amount":9500,"currency":"EUR"}},"costRate":{{"amount":6000,"currency":"EUR"}},"isLocked":false,"kioskId":null,"type":"REGULAR","project":{{"id":"64c3d4e5f60718293a4b5c6d","name":"Platform 2027","clientId":"64e5f60718293a4b5c6d7e8f","clientName":"Northwind Traders","color":"#03A9F4","billable":true,"archived":false}},"tags":[{{"id":"64a1b2c3d4e5f60718293a4b","name":"meeting","workspaceId":"{ws}","archived":false}},{{"id":"64a1b2c3d4e5f60718293a4c","name":"billable-review","workspaceId":"{ws}","archived":false}},{{"id":"64a1b2c3d4e5f60718293a4d","name":"q4","workspaceId":"{ws}","archived":false}}]}}"##
    )
}

/// A project with a client, two memberships, rates and an estimate (about 0.8 KB).
pub fn project(ws: &str, n: u64) -> String {
    format!(
        r##"{{"id":"65f2aa00{n:016x}","name":"Client portal {n}","hourlyRate":{{"amount":9500,"currency":"EUR"}},"costRate":{{"amount":6000,"currency":"EUR"}},"clientId":"64e5f60718293a4b5c6d7e8f","clientName":"Northwind Traders","workspaceId":"{ws}","billable":true,"memberships":[{{"userId":"5e4117fe8c625f38930d57b7","hourlyRate":{{"amount":9500,"currency":"EUR"}},"costRate":null,"targetId":"65f2aa00{n:016x}","membershipType":"PROJECT","membershipStatus":"ACTIVE"}},{{"userId":"5e4117fe8c625f38930d57b8","hourlyRate":null,"costRate":null,"targetId":"65f2aa00{n:016x}","membershipType":"PROJECT","membershipStatus":"ACTIVE"}}],"color":"#8BC34A","estimate":{{"estimate":"PT120H","type":"AUTO"}},"archived":false,"duration":"PT0S","note":"Phase two of the portal","template":false,"public":false}}"##
    )
}

/// A tag (the smallest body, about 0.1 KB).
pub fn tag(ws: &str, n: u64) -> String {
    format!(r#"{{"id":"65f3bb00{n:016x}","name":"tag {n}","workspaceId":"{ws}","archived":false}}"#)
}

/// A member who joined, with settings and a membership (about 0.6 KB).
pub fn user(ws: &str, n: u64) -> String {
    format!(
        r##"{{"id":"65f4cc00{n:016x}","email":"member{n}@example.com","name":"Member {n}","memberships":[{{"userId":"65f4cc00{n:016x}","hourlyRate":null,"costRate":null,"targetId":"{ws}","membershipType":"WORKSPACE","membershipStatus":"ACTIVE"}}],"profilePicture":"https://img.clockify.me/no-user-image.png","activeWorkspace":"{ws}","defaultWorkspace":"{ws}","settings":{{"weekStart":"MONDAY","timeZone":"Europe/Berlin","timeFormat":"HOUR24","dateFormat":"YYYY-MM-DD","sendNewsletter":false,"weeklyUpdates":false,"longRunning":false,"scheduledReports":true,"approval":true,"pto":true,"alerts":true,"reminders":true,"timeTrackingManual":false,"summaryReportSettings":{{"group":"PROJECT","subgroup":"CLIENT"}},"isCompactViewOn":false,"dashboardSelection":"ME","dashboardViewType":"PROJECT","dashboardPinToTop":false,"projectListCollapse":50,"collapseAllProjectLists":false,"groupSimilarEntriesDisabled":false,"myStartOfDay":"09:00","lang":"EN","multiFactorEnabled":false,"theme":"DEFAULT","scheduling":true,"onboarding":false,"showOnlyWorkingDays":false}},"status":"ACTIVE","customFields":[]}}"##
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clockify_gateway::clockify_client::types;

    macro_rules! fits {
        ($t:ty, $body:expr) => {{
            let body = $body;
            serde_json::from_str::<$t>(&body).unwrap_or_else(|e| panic!("does not fit {}: {e}\n{body}", stringify!($t)))
        }};
    }

    #[test]
    fn every_body_fits_its_contract_type_and_the_time_entry_is_about_1_4_kb() {
        let entry = fits!(types::TimeEntryWithRatesDtoV1, time_entry("ws1", 7));
        assert_eq!(entry.workspace_id.as_deref(), Some("ws1"));
        assert_eq!(entry.tag_ids.len(), 3);
        assert_eq!(entry.custom_field_values.len(), 2);
        assert!(entry.time_interval.is_some());
        fits!(types::ProjectDtoV1, project("ws1", 7));
        fits!(types::TagDtoV1, tag("ws1", 7));
        fits!(types::UserDtoV1, user("ws1", 7));
        let len = time_entry("ws-0123456789abcdef01234567", 7).len();
        assert!((1300..=1500).contains(&len), "a time entry of {len} bytes");
    }

    #[test]
    fn bodies_are_unique_per_delivery_and_the_mix_follows_its_weights() {
        assert_ne!(time_entry("ws1", 1), time_entry("ws1", 2));
        assert_ne!(user("ws1", 1), user("ws1", 2));
        let entries = (0..1000).filter(|&n| nth(n).event == "NEW_TIME_ENTRY").count();
        assert_eq!(entries, 500);
        assert_eq!(MIX.iter().map(|s| s.weight).sum::<u64>(), WEIGHT_TOTAL);
    }
}
