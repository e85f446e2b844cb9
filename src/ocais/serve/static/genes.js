// Candidate genes as the clinician lists them (from a sequencing report or a panel): read from a
// comma / space separated list, shown back as one. The service reads symbols, NCBIGene: ids and
// HGNC:3603|FBN1 forms; nothing else is checked here (the API answers what it cannot link).

export const MAX_GENES = 500;

/** The genes of `text` in order, without repeats (compared case-insensitively). */
export function parseGenes(text) {
  const seen = new Set();
  const genes = [];
  for (const token of String(text || "").split(/[\s,;]+/)) {
    const gene = token.trim();
    if (!gene || seen.has(gene.toUpperCase())) continue;
    seen.add(gene.toUpperCase());
    genes.push(gene);
  }
  return genes;
}

/** `genes` followed by those of `more` not already in it. */
export function mergeGenes(genes, more) {
  return parseGenes([...(genes || []), ...(more || [])].join(" "));
}

/** A list of genes as the field shows it. */
export function genesText(genes) {
  return (genes || []).join(", ");
}

/** "1 candidate gene", "3 candidate genes". */
export function genesCount(genes) {
  const n = (genes || []).length;
  return `${n} candidate gene${n === 1 ? "" : "s"}`;
}
