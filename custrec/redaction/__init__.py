"""Redaction of personal data in customer records and free text (finding it:
``custrec.redaction.detect``).

Submodules are not imported here, so ``import custrec.redaction`` stays cheap.
"""
