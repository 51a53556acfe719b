"""The trust edge for FHIR R4: Encounter resources in, pseudonymised bed-flow events out."""
