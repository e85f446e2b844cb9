"""Evidence packages: signed synthetic datasets, learned models, adapters and evaluations that
another site pulls, verifies and uses (decision 0014, docs/packages.md).

- :mod:`ocais.share.signing` — the site's Ed25519 key, DSSE envelopes of in-toto statements
- :mod:`ocais.share.trust` — the signers this site accepts, per kind
- :mod:`ocais.share.package` — the package file: build, read, verify
- :mod:`ocais.share.kinds` — what each kind holds and must pass (the privacy gate), its card
- :mod:`ocais.share.registry` — this site's installed packages, lineage
- :mod:`ocais.share.client` — another site's registry over HTTP
"""

from ocais.share.package import PACKAGE_FORMAT, PackageManifest, parse_ref
from ocais.share.registry import Installed, Registry
from ocais.share.signing import PublicKeyInfo, SiteKey
from ocais.share.trust import KINDS, TrustStore

__all__ = [
    "KINDS",
    "PACKAGE_FORMAT",
    "Installed",
    "PackageManifest",
    "PublicKeyInfo",
    "Registry",
    "SiteKey",
    "TrustStore",
    "parse_ref",
]
