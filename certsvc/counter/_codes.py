"""The counter's own codes (shown on its HTML error pages; the README's error table lists each).

Refusals of the issuance use case come from the face's table (`refusal_problem`); the staff
layer's sign-in and password refusals are listed here with the status the page answers with.
"""

from __future__ import annotations

from certsvc.channel import CodeInfo
from certsvc.staff import STAFF_CODES

COUNTER_CODES: dict[str, CodeInfo] = {
    "COUNTER_CSRF_INVALID": CodeInfo(
        403, "The form's CSRF token is missing or does not belong to this browser's session"
    ),
    "COUNTER_SIGNED_OUT": CodeInfo(
        401, "Not signed in, or the staff session ended (15 minutes idle or 8 hours)"
    ),
    "COUNTER_PASSWORD_CHANGE_REQUIRED": CodeInfo(
        403, "The password must be changed before anything else"
    ),
    "COUNTER_ROLE_NOT_ALLOWED": CodeInfo(403, "This role may not use this page"),
    "COUNTER_MUNICIPALITY_NOT_GRANTED": CodeInfo(
        403, "This staff ID is not granted this municipality"
    ),
    "COUNTER_VISIT_INVALID": CodeInfo(
        403, "The visit token was not sealed by this counter for this staff session"
    ),
    "COUNTER_VISIT_EXPIRED": CodeInfo(409, "The visit has expired; start it again"),
    "COUNTER_VISIT_ALREADY_ISSUED": CodeInfo(
        409, "This visit has issued its certificate already (the form was sent twice)"
    ),
    "COUNTER_FORM_INVALID": CodeInfo(400, "A field of the form is missing or not valid"),
    "COUNTER_CERTIFICATE_ID_INVALID": CodeInfo(
        400, "The certificate ID is not 12 characters of A-Z and 2-7"
    ),
    "COUNTER_CARD_BUNDLE_INVALID": CodeInfo(
        400, "The card file is not a card bundle (the JSON the card reader writes)"
    ),
    "COUNTER_UPLOAD_TOO_LARGE": CodeInfo(413, "The uploaded file is too large"),
    "COUNTER_SCAN_UNREADABLE": CodeInfo(
        422, "No passport machine-readable zone could be read from the scan"
    ),
    "COUNTER_OCR_UNAVAILABLE": CodeInfo(
        503, "Passport OCR is not available now; type the two lines instead"
    ),
    "COUNTER_TERMINAL_TOKEN_INVALID": CodeInfo(
        403, "The terminal enrolment link is unknown, used already or expired"
    ),
    # HTTP-level answers, as HTML on this listener (the same codes the JSON listeners use).
    "NOT_FOUND": CodeInfo(404, "No such resource"),
    "METHOD_NOT_ALLOWED": CodeInfo(405, "Method not allowed on this resource"),
    "BODY_TOO_LARGE": CodeInfo(413, "The request body is too large"),
    "MALFORMED_REQUEST": CodeInfo(400, "The request is not well-formed"),
    "INTERNAL_ERROR": CodeInfo(500, "Internal error; quote the request id to the operator"),
    "DEPENDENCY_UNAVAILABLE": CodeInfo(503, "A backing service is unavailable; retry shortly"),
}
# The staff layer's sign-in, session and password refusals, with its statuses and titles.
COUNTER_CODES.update(STAFF_CODES)
