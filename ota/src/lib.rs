//! Signed model manifests (ed25519), allowlisted sources, resumable downloads, atomic A/B install and rollback. Not built yet: see the OTA issue.
