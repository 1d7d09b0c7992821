//! Which CRM a CSV export came from, and which contact field each of its
//! columns feeds: the [`Mapping`] the import preview proposes and the user
//! edits and sends back as JSON.
//!
//! Detection and default mappings go by column names only, compared without
//! case, spaces or punctuation (`E-mail`, `email`, `E Mail` are one name).
//! The column lists are our own reading of what those products export; a
//! column we do not recognise is ignored until the user maps it. Default
//! mappings only ever use the built-in targets: they must never point at a
//! custom field, because we cannot know which ones a workspace has.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The CRMs whose exports we recognise, and `Generic` for everything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    Hubspot,
    Salesforce,
    Pipedrive,
    Generic,
}

impl Preset {
    pub const ALL: [Preset; 4] = [Preset::Hubspot, Preset::Salesforce, Preset::Pipedrive, Preset::Generic];

    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Hubspot => "hubspot",
            Preset::Salesforce => "salesforce",
            Preset::Pipedrive => "pipedrive",
            Preset::Generic => "generic",
        }
    }

    /// Case-insensitive name, as [`Preset::as_str`] writes it.
    pub fn parse(s: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// Where one column's values go.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    FirstName,
    LastName,
    /// One cell with the whole name, split into first and last.
    FullName,
    /// With an optional label such as `work`.
    Email(Option<String>),
    /// With an optional label such as `mobile`.
    Phone(Option<String>),
    Company,
    Title,
    Birthday,
    TimeZone,
    Source,
    Street,
    City,
    Region,
    PostalCode,
    Country,
    Website,
    /// Several tags in one cell, separated by `,` or `;`.
    Tags,
    /// A custom field, by key.
    Custom(String),
    Ignore,
}

impl Target {
    /// Read the JSON form: `first_name`, `email`, `email:work`,
    /// `phone:mobile`, `tags`, `custom:<key>`, `ignore`, …
    pub fn parse(s: &str) -> Result<Target, String> {
        let s = s.trim();
        let (head, arg) = match s.split_once(':') {
            Some((head, arg)) => (head, Some(arg)),
            None => (s, None),
        };
        let head = head.to_ascii_lowercase();
        let simple = match head.as_str() {
            "email" => return Ok(Target::Email(arg.map(label).transpose()?)),
            "phone" => return Ok(Target::Phone(arg.map(label).transpose()?)),
            "custom" => {
                let key = arg.ok_or("custom needs a field key: custom:<key>")?;
                kith_domain::crm::check_field_key(key).map_err(|e| format!("custom field key {key:?} {e}"))?;
                return Ok(Target::Custom(key.to_string()));
            }
            "first_name" => Target::FirstName,
            "last_name" => Target::LastName,
            "full_name" => Target::FullName,
            "company" => Target::Company,
            "title" => Target::Title,
            "birthday" => Target::Birthday,
            "time_zone" => Target::TimeZone,
            "source" => Target::Source,
            "street" => Target::Street,
            "city" => Target::City,
            "region" => Target::Region,
            "postal_code" => Target::PostalCode,
            "country" => Target::Country,
            "website" => Target::Website,
            "tags" => Target::Tags,
            "ignore" => Target::Ignore,
            _ => {
                return Err("expected one of first_name, last_name, full_name, email[:label], phone[:label], \
                            company, title, birthday, time_zone, source, street, city, region, postal_code, \
                            country, website, tags, custom:<key>, ignore"
                    .to_string())
            }
        };
        match arg {
            Some(_) => Err(format!("{head} takes no ':' suffix; only email, phone and custom do")),
            None => Ok(simple),
        }
    }
}

/// A label: lower-case letters, digits, `_` or `-`, at most 32.
fn label(raw: &str) -> Result<String, String> {
    let l = raw.trim().to_ascii_lowercase();
    let ok = !l.is_empty()
        && l.len() <= 32
        && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(l)
    } else {
        Err(format!("label {raw:?} must be 1-32 letters, digits, _ or -"))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let simple = match self {
            Target::Email(None) => "email",
            Target::Email(Some(l)) => return write!(f, "email:{l}"),
            Target::Phone(None) => "phone",
            Target::Phone(Some(l)) => return write!(f, "phone:{l}"),
            Target::Custom(key) => return write!(f, "custom:{key}"),
            Target::FirstName => "first_name",
            Target::LastName => "last_name",
            Target::FullName => "full_name",
            Target::Company => "company",
            Target::Title => "title",
            Target::Birthday => "birthday",
            Target::TimeZone => "time_zone",
            Target::Source => "source",
            Target::Street => "street",
            Target::City => "city",
            Target::Region => "region",
            Target::PostalCode => "postal_code",
            Target::Country => "country",
            Target::Website => "website",
            Target::Tags => "tags",
            Target::Ignore => "ignore",
        };
        f.write_str(simple)
    }
}

impl Serialize for Target {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Target::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("the mapping must look like {{\"columns\": {{\"<column>\": \"<target>\"}}}}: {0}")]
    Json(String),
    #[error("the file has no column named {0:?}")]
    UnknownColumn(String),
    #[error("column {column:?}: unknown target {target:?}: {reason}")]
    InvalidTarget { column: String, target: String, reason: String },
}

impl MappingError {
    pub fn code(&self) -> &'static str {
        match self {
            MappingError::Json(_) => "invalid_mapping",
            MappingError::UnknownColumn(_) => "unknown_column",
            MappingError::InvalidTarget { .. } => "invalid_target",
        }
    }
}

/// Column index → target, for one file's header row.
///
/// In JSON, columns are named by their header text. Two columns with the
/// same header are told apart as `Email`, `Email #2`, …; a column with an
/// empty header is `column 7` (its 1-based position). [`Mapping::keys`]
/// lists the names so the preview can show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    keys: Vec<String>,
    targets: Vec<Target>,
}

impl Mapping {
    /// Every column ignored.
    pub fn ignore_all(headers: &[String]) -> Mapping {
        Mapping { keys: column_keys(headers), targets: vec![Target::Ignore; headers.len()] }
    }

    /// The mapping a user sent, for a file with `headers`. Columns it does
    /// not name are ignored.
    pub fn from_json(json: &str, headers: &[String]) -> Result<Mapping, MappingError> {
        let value: Value = serde_json::from_str(json).map_err(|e| MappingError::Json(e.to_string()))?;
        Mapping::from_value(&value, headers)
    }

    /// [`Mapping::from_json`] for a mapping already parsed as part of a
    /// larger request body.
    pub fn from_value(value: &Value, headers: &[String]) -> Result<Mapping, MappingError> {
        let bad = |why: &str| MappingError::Json(why.to_string());
        let object = value.as_object().ok_or_else(|| bad("expected an object"))?;
        if let Some(other) = object.keys().find(|k| *k != "columns") {
            return Err(bad(&format!("unexpected field {other:?}")));
        }
        let columns = object.get("columns").ok_or_else(|| bad("missing \"columns\""))?;
        let columns = columns.as_object().ok_or_else(|| bad("\"columns\" must be an object"))?;
        let mut mapping = Mapping::ignore_all(headers);
        let index: HashMap<&str, usize> = mapping.keys.iter().enumerate().map(|(i, k)| (k.as_str(), i)).collect();
        for (column, target) in columns {
            let &i = index.get(column.as_str()).ok_or_else(|| MappingError::UnknownColumn(column.clone()))?;
            let text = target.as_str().ok_or_else(|| bad(&format!("the target for {column:?} must be a string")))?;
            mapping.targets[i] = Target::parse(text).map_err(|reason| MappingError::InvalidTarget {
                column: column.clone(),
                target: text.to_string(),
                reason,
            })?;
        }
        Ok(mapping)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The JSON name of each column, in file order.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// The target of each column, in file order.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// The target of a column; `Ignore` past the last one.
    pub fn target(&self, column: usize) -> &Target {
        self.targets.get(column).unwrap_or(&Target::Ignore)
    }

    /// Change one column's target; a column past the header is ignored.
    pub fn set(&mut self, column: usize, target: Target) {
        if let Some(t) = self.targets.get_mut(column) {
            *t = target;
        }
    }
}

impl Serialize for Mapping {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        /// The columns in file order (a map type would sort them).
        struct Columns<'a>(&'a Mapping);
        impl Serialize for Columns<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_map(self.0.keys.iter().zip(&self.0.targets))
            }
        }
        let mut out = s.serialize_struct("Mapping", 1)?;
        out.serialize_field("columns", &Columns(self))?;
        out.end()
    }
}

/// The JSON names of columns: trimmed header text, `column N` for an empty
/// header, and ` #2`, ` #3`, … appended to repeated names.
pub fn column_keys(headers: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let base = match h.trim() {
                "" => format!("column {}", i + 1),
                name => name.to_string(),
            };
            let mut key = base.clone();
            let mut n = 2;
            while !seen.insert(key.clone()) {
                key = format!("{base} #{n}");
                n += 1;
            }
            key
        })
        .collect()
}

/// A header reduced to lower-case letters and digits.
fn squash(header: &str) -> String {
    header.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// Column names only one product exports, squashed, with a weight: 2 for a
/// name that alone identifies the product, 1 for one that only hints.
const HUBSPOT_MARKS: &[(&str, u32)] = &[
    ("recordid", 2),
    ("lifecyclestage", 2),
    ("leadstatus", 1),
    ("phonenumber", 1),
    ("mobilephonenumber", 1),
    ("stateregion", 1),
    ("countryregion", 1),
    ("originalsource", 1),
    ("websiteurl", 1),
    ("associatedcompany", 1),
    ("companyname", 1),
    ("createdate", 1),
    ("lastactivitydate", 1),
    ("marketingcontactstatus", 2),
];
const SALESFORCE_MARKS: &[(&str, u32)] = &[
    ("contactid", 2),
    ("accountname", 2),
    ("accountid", 2),
    ("mailingstreet", 2),
    ("mailingcity", 1),
    ("mailingstateprovince", 1),
    ("mailingzippostalcode", 1),
    ("mailingcountry", 1),
    ("mobile", 1),
    ("mobilephone", 1),
    ("salutation", 1),
    ("birthdate", 1),
    ("leadsource", 1),
    ("otherphone", 1),
];

/// Which product exported a file with these headers: the one with the
/// highest score, if it reaches 2 and no other product has the same score.
/// Pipedrive is recognised by its `Person - …` / `Organization - …` column
/// prefixes, worth 2 each.
pub fn detect(headers: &[String]) -> Preset {
    let score = |marks: &[(&str, u32)]| -> u32 {
        headers.iter().map(|h| squash(h)).filter_map(|h| marks.iter().find(|(m, _)| *m == h).map(|(_, w)| w)).sum()
    };
    let pipedrive = headers.iter().filter(|h| pipedrive_part(h).is_some()).count() as u32 * 2;
    let scores = [
        (Preset::Hubspot, score(HUBSPOT_MARKS)),
        (Preset::Salesforce, score(SALESFORCE_MARKS)),
        (Preset::Pipedrive, pipedrive),
    ];
    let best = scores.iter().max_by_key(|(_, s)| *s).map_or(0, |(_, s)| *s);
    let winners: Vec<_> = scores.iter().filter(|(_, s)| *s == best).collect();
    match winners[..] {
        [(preset, _)] if best >= 2 => *preset,
        _ => Preset::Generic,
    }
}

/// `Person - Email - Work` → (`person`, `Email - Work`).
fn pipedrive_part(header: &str) -> Option<(&'static str, &str)> {
    let (entity, rest) = header.split_once(" - ")?;
    let entity = ["person", "organization", "deal"].into_iter().find(|e| e.eq_ignore_ascii_case(entity.trim()))?;
    Some((entity, rest))
}

/// The mapping the preview proposes for a file from `preset`.
pub fn default_mapping(preset: Preset, headers: &[String]) -> Mapping {
    let mut mapping = Mapping::ignore_all(headers);
    for (i, header) in headers.iter().enumerate() {
        mapping.targets[i] = guess(preset, header);
    }
    mapping
}

fn guess(preset: Preset, header: &str) -> Target {
    let name = squash(header);
    match preset {
        Preset::Pipedrive => match pipedrive_part(header) {
            // Pipedrive names person fields like everyone else, behind a
            // prefix; organisation columns describe the company, whose name is
            // the only part a contact keeps.
            Some(("person", rest)) => match squash(rest).as_str() {
                "organization" | "organisation" => Target::Company,
                "labels" | "label" => Target::Tags,
                rest => generic(rest),
            },
            Some(("organization", rest)) if squash(rest) == "name" => Target::Company,
            Some(_) => Target::Ignore,
            None => generic(&name),
        },
        Preset::Salesforce => match name.as_str() {
            // Salesforce's plain "Phone" is the business line.
            "phone" | "businessphone" => Target::Phone(Some("work".into())),
            "fax" => Target::Phone(Some("fax".into())),
            _ => generic(&name),
        },
        Preset::Hubspot => match name.as_str() {
            "associatedcompany" => Target::Company,
            _ => generic(&name),
        },
        Preset::Generic => generic(&name),
    }
}

/// Obvious column names, squashed, in English plus the few other languages
/// spreadsheets from our users' address books often have.
fn generic(name: &str) -> Target {
    if let Some(label) = labelled(name, &["email", "emailaddress", "mail"]) {
        return Target::Email(label);
    }
    if let Some(label) = labelled(name, &["phone", "phonenumber", "telephone", "tel"]) {
        return Target::Phone(label);
    }
    match name {
        "firstname" | "first" | "givenname" | "forename" | "vorname" | "prénom" | "prenom" | "nombre" => {
            Target::FirstName
        }
        "lastname" | "last" | "surname" | "familyname" | "nachname" | "nom" | "apellido" | "apellidos" => {
            Target::LastName
        }
        "name" | "fullname" | "contactname" | "contact" | "displayname" | "personname" => Target::FullName,
        "mobile" | "mobilephone" | "mobilephonenumber" | "mobilenumber" | "cell" | "cellphone" | "handy" => {
            Target::Phone(Some("mobile".into()))
        }
        "fax" | "faxnumber" => Target::Phone(Some("fax".into())),
        "company" | "companyname" | "organization" | "organisation" | "org" | "account" | "accountname"
        | "employer" | "firma" | "empresa" => Target::Company,
        "title" | "jobtitle" | "position" | "role" => Target::Title,
        "birthday" | "birthdate" | "dateofbirth" | "dob" | "geburtstag" => Target::Birthday,
        "timezone" | "tz" => Target::TimeZone,
        "source" | "leadsource" | "originalsource" => Target::Source,
        "street" | "address" | "streetaddress" | "address1" | "addressline1" | "mailingstreet" => Target::Street,
        "city" | "town" | "mailingcity" => Target::City,
        "state" | "region" | "province" | "stateregion" | "stateprovince" | "mailingstate" | "mailingstateprovince" => {
            Target::Region
        }
        "zip"
        | "zipcode"
        | "postalcode"
        | "postcode"
        | "zippostalcode"
        | "mailingzippostalcode"
        | "mailingpostalcode"
        | "plz" => Target::PostalCode,
        "country" | "countryregion" | "mailingcountry" => Target::Country,
        "website" | "websiteurl" | "url" | "web" | "homepage" => Target::Website,
        "tags" | "tag" | "labels" | "categories" => Target::Tags,
        _ => Target::Ignore,
    }
}

/// Whether `name` is one of `bases`, optionally with a label before or after
/// it (`workemail`, `emailwork`, `homephone`) or a number after it
/// (`email2`). `Some(None)` is a match without a label.
fn labelled(name: &str, bases: &[&str]) -> Option<Option<String>> {
    const LABELS: &[&str] = &["work", "home", "personal", "other", "main", "mobile", "fax", "pager"];
    let known = |l: &str| {
        let l = match l {
            "business" | "office" => "work",
            "private" => "personal",
            "cell" => "mobile",
            l => l,
        };
        LABELS.contains(&l).then(|| l.to_string())
    };
    for base in bases {
        if name == *base {
            return Some(None);
        }
        if let Some(rest) = name.strip_prefix(base) {
            if rest.bytes().all(|b| b.is_ascii_digit()) {
                return Some(None);
            }
            if let Some(l) = known(rest) {
                return Some(Some(l));
            }
        }
        if let Some(l) = name.strip_suffix(base).and_then(known) {
            return Some(Some(l));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn detects_crm_exports() {
        let hubspot = headers(&[
            "Record ID",
            "First Name",
            "Last Name",
            "Email",
            "Phone Number",
            "Company Name",
            "Lifecycle Stage",
            "Contact owner",
        ]);
        assert_eq!(detect(&hubspot), Preset::Hubspot);
        let salesforce =
            headers(&["Contact ID", "First Name", "Last Name", "Account Name", "Mailing Street", "Mobile", "Email"]);
        assert_eq!(detect(&salesforce), Preset::Salesforce);
        let pipedrive =
            headers(&["Person - Name", "Person - Email - Work", "Person - Phone - Mobile", "Organization - Name"]);
        assert_eq!(detect(&pipedrive), Preset::Pipedrive);
        assert_eq!(detect(&headers(&["Name", "E-mail", "Mobile"])), Preset::Generic);
        assert_eq!(detect(&headers(&["RECORD id", "email"])), Preset::Hubspot);
    }

    #[test]
    fn default_mappings() {
        let h = headers(&[
            "Record ID",
            "First Name",
            "Last Name",
            "Email",
            "Phone Number",
            "Company Name",
            "Lifecycle Stage",
        ]);
        let m = default_mapping(Preset::Hubspot, &h);
        assert_eq!(
            m.targets(),
            [
                Target::Ignore,
                Target::FirstName,
                Target::LastName,
                Target::Email(None),
                Target::Phone(None),
                Target::Company,
                Target::Ignore
            ]
        );
        let h = headers(&["Phone", "Mobile", "Mailing Zip/Postal Code", "Account Name", "Birthdate"]);
        let m = default_mapping(Preset::Salesforce, &h);
        assert_eq!(
            m.targets(),
            [
                Target::Phone(Some("work".into())),
                Target::Phone(Some("mobile".into())),
                Target::PostalCode,
                Target::Company,
                Target::Birthday
            ]
        );
        let h = headers(&[
            "Person - Name",
            "Person - Email - Work",
            "Person - Phone - Mobile",
            "Person - Organization",
            "Person - Labels",
            "Organization - Name",
            "Organization - Address",
            "Deal - Title",
        ]);
        let m = default_mapping(Preset::Pipedrive, &h);
        assert_eq!(
            m.targets(),
            [
                Target::FullName,
                Target::Email(Some("work".into())),
                Target::Phone(Some("mobile".into())),
                Target::Company,
                Target::Tags,
                Target::Company,
                Target::Ignore,
                Target::Ignore
            ]
        );
        let h =
            headers(&["firstname", "E-Mail", "Work Email", "email2", "Organisation", "Telephone", "Favourite colour"]);
        let m = default_mapping(Preset::Generic, &h);
        assert_eq!(
            m.targets(),
            [
                Target::FirstName,
                Target::Email(None),
                Target::Email(Some("work".into())),
                Target::Email(None),
                Target::Company,
                Target::Phone(None),
                Target::Ignore
            ]
        );
    }

    #[test]
    fn mapping_json_round_trip() {
        let h = headers(&["Name", "Email", "Email", "", "Score"]);
        let mut m = default_mapping(Preset::Generic, &h);
        m.set(2, Target::Email(Some("work".into())));
        m.set(4, Target::Custom("score".into()));
        assert_eq!(m.keys(), ["Name", "Email", "Email #2", "column 4", "Score"]);
        let json = m.to_json();
        assert_eq!(
            json,
            r#"{"columns":{"Name":"full_name","Email":"email","Email #2":"email:work","column 4":"ignore","Score":"custom:score"}}"#
        );
        assert_eq!(Mapping::from_json(&json, &h).unwrap(), m);
        let partial = Mapping::from_json(r#"{"columns": {"Score": "phone:mobile"}}"#, &h).unwrap();
        assert_eq!(partial.target(0), &Target::Ignore);
        assert_eq!(partial.target(4), &Target::Phone(Some("mobile".into())));
        assert_eq!(partial.target(99), &Target::Ignore);
    }

    #[test]
    fn mapping_errors() {
        let h = headers(&["Name", "Email"]);
        let err = |json: &str| Mapping::from_json(json, &h).unwrap_err();
        assert_eq!(err(r#"{"columns": {"Nmae": "first_name"}}"#), MappingError::UnknownColumn("Nmae".into()));
        assert_eq!(err(r#"{"columns": {"Name": "nickname"}}"#).code(), "invalid_target");
        assert_eq!(err(r#"{"columns": {"Name": "custom:Bad Key"}}"#).code(), "invalid_target");
        assert_eq!(err(r#"{"columns": {"Name": "first_name:x"}}"#).code(), "invalid_target");
        assert_eq!(err(r#"{"columns": {"Email": "email:"}}"#).code(), "invalid_target");
        assert_eq!(err(r#"{"columns": {"Name": 3}}"#).code(), "invalid_mapping");
        assert_eq!(err(r#"{"cols": {}}"#).code(), "invalid_mapping");
        assert_eq!(err("not json").code(), "invalid_mapping");
        assert!(err(r#"{"columns": {"Name": "nickname"}}"#).to_string().contains("\"nickname\""));
    }

    #[test]
    fn targets_parse_and_print() {
        for s in ["first_name", "email", "email:work", "phone:mobile", "tags", "custom:lifecycle_stage", "ignore"] {
            assert_eq!(Target::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(Target::parse("Email:Work").unwrap(), Target::Email(Some("work".into())));
        assert_eq!(Preset::parse(" HubSpot "), Some(Preset::Hubspot));
        assert_eq!(Preset::parse("zoho"), None);
    }
}
