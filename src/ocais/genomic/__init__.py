"""Genomic evidence: the patient's VCF or variants, read into gene-level calls (``vcf``), a
genotype likelihood ratio per disease (``model``), and test sets with VCFs (``simulate``).

Genotypes identify a person: nothing here writes them anywhere or logs them.
"""
