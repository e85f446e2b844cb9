// Sex and age stated in the doctor's words ("7-year-old girl", "18 months old boy"), to fill the
// case's fields. They are shown in the form and can be corrected; nothing else is inferred.

const AGE_YEARS = /\b(\d{1,3}(?:[.,]\d+)?)[\s-]*(?:years?|yrs?|y\/?o|yo)\b(?:[\s-]*old)?/i;
const AGE_MONTHS = /\b(\d{1,2})[\s-]*(?:months?|mos?)\b[\s-]*old/i;
const AGE_WEEKS = /\b(\d{1,2})[\s-]*(?:weeks?|wks?)\b[\s-]*old/i;
const NEWBORN = /\b(?:newborn|neonate)\b/i;
const FEMALE = /\b(?:girl|woman|female|lady|daughter)\b/i;
const MALE = /\b(?:boy|man|male|gentleman|son)\b/i;

/** {sex: "female" | "male" | null, age: years | null} found in `text`. */
export function demographicsFrom(text) {
  let age = null;
  const years = text.match(AGE_YEARS);
  const months = text.match(AGE_MONTHS);
  const weeks = text.match(AGE_WEEKS);
  if (years) age = Number(years[1].replace(",", "."));
  else if (months) age = Math.round((Number(months[1]) / 12) * 100) / 100;
  else if (weeks) age = Math.round((Number(weeks[1]) / 52) * 100) / 100;
  else if (NEWBORN.test(text)) age = 0;
  if (age !== null && !(age >= 0 && age <= 150)) age = null;
  const female = FEMALE.test(text);
  const male = MALE.test(text);
  const sex = female && !male ? "female" : male && !female ? "male" : null;
  return { sex, age };
}
