//! Italian codice fiscale (personal, 16 characters, or numeric, 11 digits) and partita IVA.
//!
//! Two entry points: [`FiscalCode::parse`] validates strictly (a utility for input you
//! control), [`FiscalCode::from_idp`] keeps any well-shaped value an identity provider sent
//! and remembers the strict verdict, so a login is never rejected because an IdP (or an AgID
//! test fixture) carries a code with a wrong check character.

use std::fmt;

use crate::time::Date;

/// A codice fiscale: the bare, upper-case code plus the verdict of strict validation.
///
/// Two values are equal when their codes are (the verdict follows from the code).
///
/// `Debug` is redacted (it is personal data): it shows the kind and the verdict, never the
/// code; `Display` and [`FiscalCode::as_str`] give the code when the application needs it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct FiscalCode {
    code: String,
    verdict: Result<(), FiscalCodeError>,
}

impl std::fmt::Debug for FiscalCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FiscalCode")
            .field("code", &crate::identity::Redacted)
            .field("verdict", &self.verdict)
            .finish()
    }
}

/// The two shapes of codice fiscale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum FiscalCodeKind {
    /// 16 characters: natural persons.
    Personal,
    /// 11 digits: legal persons, and temporary codes of natural persons.
    Numeric,
}

/// Why a codice fiscale or partita IVA failed strict validation.
///
/// The messages never repeat the code itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum FiscalCodeError {
    /// Nothing left after trimming and removing the prefix.
    #[error("empty fiscal code")]
    Empty,
    /// Wrong length or characters in the wrong places.
    #[error("malformed fiscal code")]
    Format,
    /// The check character (or Luhn check digit) does not match.
    #[error("wrong check character")]
    Checksum,
    /// The encoded birth date does not exist.
    #[error("impossible birth date")]
    Date,
    /// The office code of a numeric code is not assigned.
    #[error("invalid office code")]
    OfficeCode,
    /// The company number of a numeric code is all zeros.
    #[error("company number is zero")]
    ZeroCompany,
}

/// Gender as encoded in a personal codice fiscale or sent in the SPID `gender` attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Gender {
    /// `M`.
    Male,
    /// `F`.
    Female,
}

impl Gender {
    /// Parses the SPID `gender` attribute value: `M` or `F` (case-insensitive, trimmed).
    pub fn parse(s: &str) -> Option<Gender> {
        match s.trim() {
            "M" | "m" => Some(Gender::Male),
            "F" | "f" => Some(Gender::Female),
            _ => None,
        }
    }
}

/// 0-based positions of the characters that omocodia may turn into letters.
const NUMERIC_POSITIONS: [usize; 7] = [6, 7, 9, 10, 12, 13, 14];
/// Month letters, January first.
const MONTHS: &[u8; 12] = b"ABCDEHLMPRST";
/// Letters that replace the digits 0–9 under omocodia.
const OMOCODE_LETTERS: &[u8; 10] = b"LMNPQRSTUV";
/// Check-character values of characters in odd (1-based) positions, `0`/`A` first.
const ODD_VALUES: [u32; 26] = [
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
];

impl FiscalCode {
    /// Strict parsing: trims, upper-cases, strips a leading `TINIT-` (any case), then
    /// validates shape, birth date and check character (personal) or Luhn digit, office code
    /// and company number (numeric).
    pub fn parse(s: &str) -> Result<FiscalCode, FiscalCodeError> {
        let code = normalise(s);
        if code.is_empty() {
            return Err(FiscalCodeError::Empty);
        }
        verdict(&code)?;
        Ok(FiscalCode {
            code,
            verdict: Ok(()),
        })
    }

    /// Lenient parsing for values received from an identity provider: normalises like
    /// [`parse`](Self::parse) and keeps any 16 ASCII alphanumerics or 11 ASCII digits, even
    /// when strict validation fails (see [`check`](Self::check)); anything else is `None`.
    pub fn from_idp(s: &str) -> Option<FiscalCode> {
        let code = normalise(s);
        let b = code.as_bytes();
        let shaped = (b.len() == 16 && b.iter().all(u8::is_ascii_alphanumeric))
            || (b.len() == 11 && b.iter().all(u8::is_ascii_digit));
        shaped.then(|| FiscalCode {
            verdict: verdict(&code),
            code,
        })
    }

    /// The bare, upper-case code.
    pub fn as_str(&self) -> &str {
        &self.code
    }

    /// Personal (16 characters) or numeric (11 digits).
    pub fn kind(&self) -> FiscalCodeKind {
        if self.code.len() == 11 {
            FiscalCodeKind::Numeric
        } else {
            FiscalCodeKind::Personal
        }
    }

    /// The strict verdict: always `Ok` for [`parse`](Self::parse), possibly an error for
    /// [`from_idp`](Self::from_idp).
    pub fn check(&self) -> Result<(), FiscalCodeError> {
        self.verdict
    }

    /// Whether the code passed strict validation.
    pub fn is_valid(&self) -> bool {
        self.verdict.is_ok()
    }

    /// Whether omocodia replaced any digit with a letter.
    pub fn is_omocode(&self) -> bool {
        let b = self.code.as_bytes();
        self.kind() == FiscalCodeKind::Personal
            && NUMERIC_POSITIONS
                .iter()
                .any(|&i| b.get(i).is_some_and(u8::is_ascii_alphabetic))
    }

    /// The gender encoded in a personal code (women have 40 added to the day).
    pub fn gender(&self) -> Option<Gender> {
        self.decode().map(|d| d.gender)
    }

    /// The birth date encoded in a personal code. The two-digit year gets the latest century
    /// that puts the date on or before `today` (so the age is always under 100, well within
    /// 120); `None` when no such date exists (29 February of a non-leap year).
    pub fn birth_date(&self, today: Date) -> Option<Date> {
        let d = self.decode()?;
        let century = today.year().saturating_sub(today.year().rem_euclid(100));
        [century, century.saturating_sub(100)]
            .into_iter()
            .filter_map(|c| Date::new(c.saturating_add(i32::from(d.yy)), d.month, d.day))
            .find(|&date| date <= today)
    }

    /// The cadastral (Belfiore) code of the birth municipality or foreign country, with
    /// omocodia letters turned back into digits (e.g. `H501`).
    pub fn birth_place_code(&self) -> Option<String> {
        let b = self.personal_bytes()?;
        let letter = char::from(*b.get(11)?);
        let digits = (12..15).map(|i| digit_at(b, i).map(|d| char::from(b'0' + d)));
        std::iter::once(Some(letter)).chain(digits).collect()
    }

    /// The code's bytes when it has the personal shape.
    fn personal_bytes(&self) -> Option<&[u8]> {
        let b = self.code.as_bytes();
        has_personal_shape(b).then_some(b)
    }

    fn decode(&self) -> Option<Decoded> {
        decode_personal(self.personal_bytes()?)
    }
}

impl fmt::Display for FiscalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for FiscalCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.code)
    }
}

/// Deserialises leniently, like [`FiscalCode::from_idp`] (the verdict is recomputed).
#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for FiscalCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        FiscalCode::from_idp(&s).ok_or_else(|| serde::de::Error::custom(FiscalCodeError::Format))
    }
}

/// A partita IVA (Italian VAT number): 11 digits, the bare number without prefixes.
///
/// `Debug` is redacted (a sole trader's VAT number identifies a person).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct VatNumber(String);

impl std::fmt::Debug for VatNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("VatNumber")
            .field(&crate::identity::Redacted)
            .finish()
    }
}

impl VatNumber {
    /// Strict parsing: trims, strips a leading `VATIT-` or `IT` (any case), then checks
    /// 11 digits, Luhn digit, office code and company number.
    pub fn parse(s: &str) -> Result<VatNumber, FiscalCodeError> {
        let number = normalise_vat(s);
        if number.is_empty() {
            return Err(FiscalCodeError::Empty);
        }
        numeric_verdict(number.as_bytes())?;
        Ok(VatNumber(number.to_owned()))
    }

    /// Lenient parsing for IdP values: normalises like [`parse`](Self::parse) and keeps any
    /// 11 ASCII digits, valid or not (see [`is_valid`](Self::is_valid)).
    pub fn from_idp(s: &str) -> Option<VatNumber> {
        let number = normalise_vat(s);
        (number.len() == 11 && number.bytes().all(|c| c.is_ascii_digit()))
            .then(|| VatNumber(number.to_owned()))
    }

    /// The bare 11 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The strict verdict on the number.
    pub fn check(&self) -> Result<(), FiscalCodeError> {
        numeric_verdict(self.0.as_bytes())
    }

    /// Whether the number passed strict validation.
    pub fn is_valid(&self) -> bool {
        self.check().is_ok()
    }
}

impl fmt::Display for VatNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for VatNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Deserialises leniently, like [`VatNumber::from_idp`].
#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for VatNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        VatNumber::from_idp(&s).ok_or_else(|| serde::de::Error::custom(FiscalCodeError::Format))
    }
}

/// `s` without a leading `prefix`, compared case-insensitively (ASCII).
pub(crate) fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if s.get(..prefix.len())?.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

fn normalise(s: &str) -> String {
    let s = s.trim();
    let s = strip_prefix_ci(s, "TINIT-").unwrap_or(s);
    s.trim().to_ascii_uppercase()
}

fn normalise_vat(s: &str) -> &str {
    let s = s.trim();
    let s = strip_prefix_ci(s, "VATIT-")
        .or_else(|| strip_prefix_ci(s, "IT"))
        .unwrap_or(s);
    s.trim()
}

/// Strict validation of a normalised (upper-case, unprefixed) code.
fn verdict(code: &str) -> Result<(), FiscalCodeError> {
    let b = code.as_bytes();
    match b.len() {
        16 => personal_verdict(b),
        11 => numeric_verdict(b),
        _ => Err(FiscalCodeError::Format),
    }
}

fn personal_verdict(b: &[u8]) -> Result<(), FiscalCodeError> {
    if !has_personal_shape(b) {
        return Err(FiscalCodeError::Format);
    }
    if b.get(15).copied() != check_character(b) {
        return Err(FiscalCodeError::Checksum);
    }
    let d = decode_personal(b).ok_or(FiscalCodeError::Date)?;
    // Only 29 February depends on the century: accept it if either 19yy or 20yy is a leap year.
    [1900, 2000]
        .into_iter()
        .find_map(|c| Date::new(c + i32::from(d.yy), d.month, d.day))
        .map(|_| ())
        .ok_or(FiscalCodeError::Date)
}

/// `^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$`
fn has_personal_shape(b: &[u8]) -> bool {
    const PATTERN: &[u8; 16] = b"AAAAAA99M99A999A";
    b.len() == PATTERN.len()
        && b.iter().zip(PATTERN).all(|(&c, &p)| match p {
            b'A' => c.is_ascii_uppercase(),
            b'9' => c.is_ascii_digit() || OMOCODE_LETTERS.contains(&c),
            _ => MONTHS.contains(&c),
        })
}

/// The expected check character of a personal code (computed on its first 15 characters).
fn check_character(b: &[u8]) -> Option<u8> {
    let mut sum = 0u32;
    for (i, &c) in b.iter().take(15).enumerate() {
        let index = match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'Z' => c - b'A',
            _ => return None,
        };
        sum += if i % 2 == 0 {
            *ODD_VALUES.get(usize::from(index))?
        } else {
            u32::from(index)
        };
    }
    u8::try_from(sum % 26).ok().map(|r| b'A' + r)
}

/// Birth data of a personal code, omocodia undone.
struct Decoded {
    yy: u8,
    month: u8,
    day: u8,
    gender: Gender,
}

fn decode_personal(b: &[u8]) -> Option<Decoded> {
    let yy = digit_at(b, 6)? * 10 + digit_at(b, 7)?;
    let month_letter = b.get(8)?;
    let month = MONTHS.iter().position(|m| m == month_letter)?;
    let raw_day = digit_at(b, 9)? * 10 + digit_at(b, 10)?;
    let (day, gender) = match raw_day {
        1..=31 => (raw_day, Gender::Male),
        41..=71 => (raw_day - 40, Gender::Female),
        _ => return None,
    };
    Some(Decoded {
        yy,
        month: u8::try_from(month).ok()? + 1,
        day,
        gender,
    })
}

/// The digit at position `i`, mapping omocodia letters back to digits.
fn digit_at(b: &[u8], i: usize) -> Option<u8> {
    let c = *b.get(i)?;
    if c.is_ascii_digit() {
        return Some(c - b'0');
    }
    let d = OMOCODE_LETTERS.iter().position(|&l| l == c)?;
    u8::try_from(d).ok()
}

/// Validation of an 11-digit code: Luhn digit, then company number, then office code.
fn numeric_verdict(b: &[u8]) -> Result<(), FiscalCodeError> {
    if b.len() != 11 || !b.iter().all(u8::is_ascii_digit) {
        return Err(FiscalCodeError::Format);
    }
    let digits: Vec<u32> = b.iter().map(|&c| u32::from(c - b'0')).collect();
    let sum: u32 = digits
        .iter()
        .take(10)
        .enumerate()
        .map(|(i, &d)| match (i % 2, d * 2) {
            (0, _) => d,
            (_, doubled) if doubled > 9 => doubled - 9,
            (_, doubled) => doubled,
        })
        .sum();
    if digits.get(10) != Some(&((10 - sum % 10) % 10)) {
        return Err(FiscalCodeError::Checksum);
    }
    if digits.iter().take(7).all(|&d| d == 0) {
        return Err(FiscalCodeError::ZeroCompany);
    }
    let office = digits
        .iter()
        .skip(7)
        .take(3)
        .fold(0, |acc, &d| acc * 10 + d);
    match office {
        1..=100 | 120 | 121 | 888 | 999 => Ok(()),
        _ => Err(FiscalCodeError::OfficeCode),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn date(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn worked_valid_examples() {
        for code in [
            "RSSMRA80A01H501U",
            "LVLDAA85T50G702B",
            "FLPCPT69A65Z336P",
            "RSSMRA80A01H5LMX",
            "RSSMRA80A01H50MM",
            "RSSMRAULALMHRLMD",
            "CSRGGL44L13H501E",
            "GDASDV00A01H501J",
        ] {
            let cf = FiscalCode::parse(code).unwrap_or_else(|e| panic!("{code}: {e}"));
            assert_eq!(cf.as_str(), code);
            assert_eq!(cf.kind(), FiscalCodeKind::Personal);
            assert!(cf.is_valid());
        }
        for code in ["97735020584", "07945211006", "02438750586", "01879020517"] {
            let cf = FiscalCode::parse(code).unwrap_or_else(|e| panic!("{code}: {e}"));
            assert_eq!(cf.kind(), FiscalCodeKind::Numeric);
            assert!(!cf.is_omocode());
            assert_eq!(cf.gender(), None);
            assert_eq!(cf.birth_place_code(), None);
        }
    }

    #[test]
    fn worked_invalid_examples() {
        use FiscalCodeError::*;
        for (code, error) in [
            ("RSSMRA80A01H501V", Checksum),
            ("CLMCST42R12D969Z", Checksum),
            ("RSSMRA80A32H501C", Date),
            ("RSSMRA80Z01H501U", Format),
            ("12345678901", Checksum),
            ("12345678903", OfficeCode),
            ("00000000000", ZeroCompany),
            ("MHASDV02A31H671H", Checksum),
            ("13747520544", Checksum),
            ("SMTJNS99C01XXXXK", Format),
            ("", Empty),
            ("  tinit- ", Empty),
            ("RSSMRA80A01H501", Format),
            ("RSSMRA80A01H501UX", Format),
            ("1234567890A", Format),
            ("RSSMRA80A01H50ÀU", Format),
        ] {
            assert_eq!(FiscalCode::parse(code), Err(error), "{code}");
        }
    }

    #[test]
    fn impossible_calendar_dates() {
        // 30 February, with a correct check character.
        let mut code = b"RSSMRA80B30H501".to_vec();
        code.push(check_character(&code).unwrap());
        let code = String::from_utf8(code).unwrap();
        assert_eq!(FiscalCode::parse(&code), Err(FiscalCodeError::Date));
        // 29 February 00 exists in 2000; 29 February 01 never does.
        for (body, ok) in [("RSSMRA00B29H501", true), ("RSSMRA01B29H501", false)] {
            let mut code = body.as_bytes().to_vec();
            code.push(check_character(&code).unwrap());
            let code = String::from_utf8(code).unwrap();
            assert_eq!(FiscalCode::parse(&code).is_ok(), ok, "{code}");
        }
    }

    #[test]
    fn check_character_worked_example() {
        assert_eq!(check_character(b"RSSMRA80A01H501"), Some(b'U'));
    }

    #[test]
    fn prefix_case_and_whitespace() {
        for input in [
            "TINIT-RSSMRA80A01H501U",
            "tinit-rssmra80a01h501u",
            "  TiNiT-RSSMRA80A01H501U\n",
            " rssmra80a01h501u ",
        ] {
            assert_eq!(
                FiscalCode::parse(input).unwrap().as_str(),
                "RSSMRA80A01H501U"
            );
        }
        let cf = FiscalCode::parse("TINIT-97735020584").unwrap();
        assert_eq!(cf.to_string(), "97735020584");
        // Only a leading prefix is stripped.
        assert!(FiscalCode::parse("RSSMRA80A01H501UTINIT-").is_err());
    }

    #[test]
    fn from_idp_keeps_invalid_codes_flagged() {
        let cf = FiscalCode::from_idp("TINIT-CLMCST42R12D969Z").unwrap();
        assert_eq!(cf.as_str(), "CLMCST42R12D969Z");
        assert!(!cf.is_valid());
        assert_eq!(cf.check(), Err(FiscalCodeError::Checksum));
        assert_eq!(cf.gender(), Some(Gender::Male));
        assert_eq!(cf.birth_date(date("2024-01-01")), Some(date("1942-10-12")));

        let cf = FiscalCode::from_idp("13747520544").unwrap();
        assert_eq!(cf.kind(), FiscalCodeKind::Numeric);
        assert_eq!(cf.check(), Err(FiscalCodeError::Checksum));

        let cf = FiscalCode::from_idp("smtjns99c01xxxxk").unwrap();
        assert_eq!(cf.check(), Err(FiscalCodeError::Format));
        assert_eq!(cf.gender(), None);
        assert_eq!(cf.birth_date(date("2024-01-01")), None);

        let cf = FiscalCode::from_idp("tinit-rssmra80a01h501u").unwrap();
        assert!(cf.is_valid());
        assert_eq!(cf, FiscalCode::parse("RSSMRA80A01H501U").unwrap());

        for bad in [
            "",
            "TINIT-",
            "RSSMRA80A01H501",
            "RSSMRA80A01H501U1",
            "1234567890A",
            "RSSMRA80A01H50-U",
        ] {
            assert_eq!(FiscalCode::from_idp(bad), None, "{bad}");
        }
    }

    #[test]
    fn decoding_birth_data() {
        let today = date("2025-06-30");
        let cf = FiscalCode::parse("RSSMRA80A01H501U").unwrap();
        assert_eq!(cf.gender(), Some(Gender::Male));
        assert_eq!(cf.birth_date(today), Some(date("1980-01-01")));
        assert_eq!(cf.birth_place_code().as_deref(), Some("H501"));
        assert!(!cf.is_omocode());

        let cf = FiscalCode::parse("LVLDAA85T50G702B").unwrap();
        assert_eq!(cf.gender(), Some(Gender::Female));
        assert_eq!(cf.birth_date(today), Some(date("1985-12-10")));
        assert_eq!(cf.birth_place_code().as_deref(), Some("G702"));

        let cf = FiscalCode::parse("FLPCPT69A65Z336P").unwrap();
        assert_eq!(cf.gender(), Some(Gender::Female));
        assert_eq!(cf.birth_date(today), Some(date("1969-01-25")));
        assert_eq!(cf.birth_place_code().as_deref(), Some("Z336"));

        for omocode in ["RSSMRA80A01H5LMX", "RSSMRAULALMHRLMD", "RSSMRA80A01H50MM"] {
            let cf = FiscalCode::parse(omocode).unwrap();
            assert!(cf.is_omocode());
            assert_eq!(cf.gender(), Some(Gender::Male));
            assert_eq!(cf.birth_date(today), Some(date("1980-01-01")));
            assert_eq!(cf.birth_place_code().as_deref(), Some("H501"));
        }

        // Century: latest one not in the future.
        let cf = FiscalCode::parse("GDASDV00A01H501J").unwrap();
        assert_eq!(cf.birth_date(today), Some(date("2000-01-01")));
        assert_eq!(cf.birth_date(date("1999-12-31")), Some(date("1900-01-01")));
        let cf = FiscalCode::parse("CSRGGL44L13H501E").unwrap();
        assert_eq!(cf.birth_date(today), Some(date("1944-07-13")));
        assert_eq!(cf.birth_date(date("2044-07-13")), Some(date("2044-07-13")));
        assert_eq!(cf.birth_date(date("2044-07-12")), Some(date("1944-07-13")));
    }

    #[test]
    fn birth_date_century_with_leap_day() {
        let mut code = b"RSSMRA00B29H501".to_vec();
        code.push(check_character(&code).unwrap());
        let cf = FiscalCode::parse(&String::from_utf8(code).unwrap()).unwrap();
        assert_eq!(cf.birth_date(date("2025-01-01")), Some(date("2000-02-29")));
        assert_eq!(cf.birth_date(date("2101-01-01")), Some(date("2000-02-29")));
        // 2000-02-29 is in the future and 1900-02-29 does not exist.
        assert_eq!(cf.birth_date(date("2000-02-28")), None);
    }

    #[test]
    fn vat_numbers() {
        for input in [
            "97735020584",
            "VATIT-97735020584",
            "vatit-97735020584",
            "IT97735020584",
            " it97735020584 ",
        ] {
            let vat = VatNumber::parse(input).unwrap();
            assert_eq!(vat.as_str(), "97735020584");
            assert!(vat.is_valid());
        }
        assert_eq!(
            VatNumber::parse("VATIT-12345678901"),
            Err(FiscalCodeError::Checksum)
        );
        assert_eq!(
            VatNumber::parse("12345678903"),
            Err(FiscalCodeError::OfficeCode)
        );
        assert_eq!(
            VatNumber::parse("00000000000"),
            Err(FiscalCodeError::ZeroCompany)
        );
        assert_eq!(VatNumber::parse("VATIT-"), Err(FiscalCodeError::Empty));
        assert_eq!(
            VatNumber::parse("RSSMRA80A01H501U"),
            Err(FiscalCodeError::Format)
        );

        let vat = VatNumber::from_idp("VATIT-13747520544").unwrap();
        assert_eq!(vat.to_string(), "13747520544");
        assert!(!vat.is_valid());
        assert_eq!(VatNumber::from_idp("VATIT-1374752054"), None);
        assert_eq!(VatNumber::from_idp("ABCDEFGHIJK"), None);
    }

    #[test]
    fn gender_attribute() {
        assert_eq!(Gender::parse(" M "), Some(Gender::Male));
        assert_eq!(Gender::parse("f"), Some(Gender::Female));
        assert_eq!(Gender::parse("X"), None);
    }

    #[test]
    fn error_messages_are_lowercase_and_generic() {
        use FiscalCodeError::*;
        for e in [Empty, Format, Checksum, Date, OfficeCode, ZeroCompany] {
            let msg = e.to_string();
            assert!(msg.chars().next().unwrap().is_lowercase(), "{msg}");
        }
    }
}
