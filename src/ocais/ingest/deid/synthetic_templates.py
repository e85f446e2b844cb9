"""Sentence templates for :mod:`.synthetic`: ``{field}`` or ``{field:arg}`` marks a planted value.

Fields: ``patient:full|first|last|inverted|upper|initial``, ``other`` (or ``other:last``), ``date``
(or ``date:<strftime pattern>``, ``{o}`` = ordinal suffix), ``id`` (or ``id:<bothify pattern>``),
``ssn``, ``phone``, ``fax``, ``email``, ``url``, ``ip``, ``address`` (or ``address:street``),
``age`` (or ``age:words``), and the unplanted ``hpo``, ``term`` (clinical wording that must
survive), ``he``, ``his``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

HPO_LABELS = (
    "developmental delay", "seizures", "hypotonia", "microcephaly", "intellectual disability",
    "global developmental delay", "ataxia", "macrocephaly", "short stature", "scoliosis",
    "strabismus", "nystagmus", "feeding difficulties", "failure to thrive", "hearing impairment",
    "cleft palate", "atrial septal defect", "hypertelorism", "epicanthus", "clinodactyly",
    "generalized tonic-clonic seizures", "absence seizures", "spasticity", "dystonia",
)  # fmt: skip

CLINICAL_TERMS = (
    "Down syndrome", "Rett syndrome", "Dravet syndrome", "Angelman syndrome",
    "Prader-Willi syndrome", "Williams syndrome", "Marfan syndrome", "Noonan syndrome",
    "Charles Bonnet syndrome", "Cornelia de Lange syndrome", "Smith-Magenis syndrome",
    "Ehlers-Danlos syndrome", "Wilson disease", "Addison disease", "Hirschsprung disease",
    "Tay-Sachs disease", "Huntington disease", "Parkinson disease", "Alport syndrome",
    "Kabuki syndrome", "Sotos syndrome", "Leigh syndrome", "Babinski sign", "Glasgow Coma Scale",
    "SCN1A", "MECP2", "FBN1", "COL4A5", "CFTR", "NM_000218.3:c.1234A>G", "p.(Arg412Ter)",
    "c.5266dupC", "rs113993960", "HP:0001250", "OMIM:607208", "ORPHA:33069", "chr7:117559590",
    "46,XY", "NM_001165963.4", "weight 12.4 kg", "head circumference 44 cm", "BP 118/76",
    "HR 92", "platelets 250,000/uL", "2 mg/kg/day", "levetiracetam 250 mg", "grade 2/6 murmur",
    "Apgar scores 8 and 9", "3.5 Hz spike-wave", "creatine kinase 12,500 U/L", "GCS 15",
    "a 45-year-old", "aged 67", "in 2019", "EEG", "MRI", "Hemoglobin 11.2 g/dL",
)  # fmt: skip

DATE_FORMATS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "dev": (
        "%Y-%m-%d", "%m/%d/%Y", "%-d %B %Y", "%B %-d, %Y", "%b %Y", "%m/%d/%y", "%d-%b-%Y",
        "%b. %-d, %Y", "%B %Y", "%-m/%-d/%Y",
    ),
    "heldout": (
        "%Y/%m/%d", "%d.%m.%Y", "%m-%d-%Y", "%-d{o} %B %Y", "%b %-d", "%B %-d{o}, %Y",
        "%-d-%b-%y", "%d %b %Y", "%A, %B %-d, %Y", "%m/%Y",
    ),
})  # fmt: skip

TEMPLATES: Mapping[str, Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "dev": {
            "header": (
                "Patient: {patient:full}",
                "Patient: {patient:upper}",
                "Patient: {patient:inverted}",
            ),
            "ids": (
                "MRN: {id:########}",
                "MRN {id:A#######}",
                "Medical record number: {id:##-###-###}",
            ),
            "body": (
                "{patient:full} is a child referred for evaluation of {hpo}.",
                "{patient:first} was seen today with {his} mother for {hpo}.",
                "{patient:inverted} was admitted for {hpo}.",
                "{patient:initial} tolerated the EEG well.",
                "Mr. {patient:last} reports {hpo} since {date}.",
                "Seen by Dr. {other} in neurology clinic.",
                "Discussed with Dr. {other:last} by phone.",
                "{he} lives with {his} mother, {other}, who reports that {hpo} began at age 2.",
                "Spoke with {other} from the school about {hpo}.",
                "First seizure on {date}; {term} considered.",
                "MRI brain performed {date} showed no acute findings.",
                "Follow-up scheduled for {date}.",
                "SSN: {ssn}",
                "Social security number {ssn}",
                "Insurance ID: {id:??#########}",
                "Member ID {id:#########}",
                "Account #: {id:??-#######}",
                "Call back number {phone}.",
                "Mother can be reached at {phone}.",
                "Fax: {fax}",
                "Please fax results to {fax}.",
                "Email: {email}",
                "Parents prefer e-mail at {email}",
                "Family read about {hpo} at {url} .",
                "Telehealth session from IP {ip}.",
                "Lives at {address}.",
                "Home address {address:street} per registration.",
                "Great-grandmother is a {age}-year-old with {hpo}.",
                "Grandfather, aged {age}, has {hpo}.",
                "Great-aunt, {age} y/o, has {hpo}.",
                "Findings: {term}, {term} and {hpo}.",
                "{term} was discussed; {term} noted.",
            ),
            "signature": (
                "Electronically signed by: {other}, MD on {date}",
                "Signed by {other}, NP on {date}",
                "Dictated by {other} MD on {date}",
            ),
        },
        # written before the first measurement on it; do not tune the recognizers on these
        "heldout": {
            "header": (
                "Name: {patient:full}",
                "RE: {patient:full}",
                "Pt name: {patient:inverted}",
            ),
            "ids": ("Chart #{id:A##-####}", "Encounter {id:########}", "Medicaid {id:##########}"),
            "body": (
                "On exam, {patient:first} was alert and interactive.",
                "{patient:full} continues to have daily {hpo}.",
                "We recommended that {patient:first} start speech therapy for {hpo}.",
                "Genetic testing for {patient:full} was sent to an outside lab.",
                "Today {patient:first} is accompanied by {his} parents.",
                "{patient:first} has had {hpo} since age 3.",
                "Plan for {patient:first}: repeat EEG in 6 months.",
                "I met {patient:first} and {his} family in clinic.",
                "Overall, {patient:first} appears well.",
                "{patient:full} (DOB {date}) returns for follow-up of {hpo}.",
                "Thank you for referring {patient:full}.",
                "{patient:first}'s parents report {hpo}.",
                "Case reviewed with Dr. {other:last} and {other}, genetic counselor.",
                "Results were faxed to {other} at the referring office.",
                "{other}, RN, administered the vaccine.",
                "{his} father {other} has {term}.",
                "Last EEG on {date} showed {term}.",
                "Symptoms started around {date}.",
                "NHS number {id:### ### ####}",
                "Reach the family at {phone} or by fax {fax}.",
                "Contact: {email}; portal {url}",
                "VPN logs show access from {ip} on {date}.",
                "Mailing address: PO Box {id:####}, {address}.",
                "{his} grandmother is {age:words} years old and has {hpo}.",
                "Great-grandfather died at {age} of {hpo}.",
                "Family history: maternal great-aunt (age: {age}) with {term}.",
                "Medications: {term}; history of {term}.",
            ),
            "signature": (
                "-- {other}, MD, {date}",
                "Attending: {other}",
                "Note written by {other}, PA-C.",
            ),
        },
    }
)

# Clinical sentences with no PHI but many capitalized words (headings, brands, eponyms, genes,
# units): every change to one of them is a false positive. Written before the first measurement.
PHI_FREE_SENTENCES = (
    "Assessment and Plan: Continue Keppra 500 mg BID and recheck levels in 4 weeks.",
    "Family History: Maternal Uncle with Epilepsy; no consanguinity reported.",
    "Review of Systems: Negative except as noted in the HPI.",
    "Neuro: Alert, Oriented, Cranial Nerves II-XII intact, Reflexes 2+ and symmetric.",
    "Hospital Course: Admitted to the PICU for status epilepticus, loaded with Fosphenytoin.",
    "Depakote was switched to Lamictal because of weight gain.",
    "Exome sequencing identified a de novo heterozygous variant in SCN2A (c.4886G>A).",
    "Chromosomal Microarray: arr[GRCh37] 15q11.2(22770421_23282798)x1, likely benign.",
    "Karyotype 46,XX; Fragile X testing negative (CGG repeats 30 and 32).",
    "Brain MRI with Gadolinium showed Chiari I Malformation without syrinx.",
    "Diagnosis: Tuberous Sclerosis Complex with Infantile Spasms, on Vigabatrin.",
    "Bayley Scales of Infant Development III: Cognitive 70, Language 65, Motor 72.",
    "Growth: Weight 10th percentile, Height 3rd percentile, Head Circumference 50th percentile.",
    "Gross Motor: Walked at 18 months; Fine Motor: pincer grasp at 12 months.",
    "Denver II screening was abnormal in the Language domain.",
    "Vitamin D 25-OH was 18 ng/mL; started Cholecalciferol 1000 IU daily.",
    "Echocardiogram: Small PFO with Left to Right shunt, normal Biventricular Function.",
    "Ophthalmology: Cherry Red Spot not seen; Optic Discs normal.",
    "Audiology: Bilateral Sensorineural Hearing Loss, fitted with Hearing Aids.",
    "Physical Therapy and Occupational Therapy twice weekly through Early Intervention.",
    "Genetic Counseling provided regarding Autosomal Recessive inheritance (25% recurrence).",
    "Metabolic Screen: Plasma Amino Acids and Urine Organic Acids within normal limits.",
    "Lactate 2.1 mmol/L, Pyruvate 0.08 mmol/L, Ammonia 35 umol/L.",
    "Apgar Scores 7 and 9 at 1 and 5 minutes; Birth Weight 3.2 kg.",
    "Modified Ashworth Scale 2 in both Lower Extremities; Botox injections planned.",
    "Gait: Toe Walking with Trendelenburg Sign on the Right.",
    "ACMG Classification: Likely Pathogenic (PVS1, PM2, PP3).",
    "ClinVar lists this variant as Pathogenic; gnomAD allele frequency 0.00002.",
    "EEG: Hypsarrhythmia during Sleep; Background slowing in Wakefulness.",
    "Seizure Action Plan reviewed: Diastat 10 mg PR for seizures over 5 minutes.",
    "Ketogenic Diet started in March with good response.",
    "Reviewed by the Multidisciplinary Team at Tumor Board on Tuesday.",
    "Immunizations up to date per the State Registry.",
    "Tanner Stage II; Testes 4 mL bilaterally.",
    "Labs: Na 139, K 4.2, Cl 104, CO2 24, BUN 12, Cr 0.4, Glucose 88.",
    "Continue Miralax daily and Melatonin 3 mg at bedtime.",
    "Referred to Nephrology for Hematuria and to Endocrinology for Short Stature.",
    "Sanger Sequencing confirmed the variant in both Parents (Heterozygous Carriers).",
    "The CHARGE Syndrome checklist was completed with the Family.",
    "Pain Score 0/10 at Discharge; follow up in Neurology Clinic in 3 months.",
)
