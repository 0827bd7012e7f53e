"""The log filter masks personal data that reached a log call by mistake."""

from __future__ import annotations

import io
import json
import logging

from certsvc.logs import configure_logging, mask_text, reset_request_id, set_request_id


def test_mask_text_masks_personal_shapes() -> None:
    text = "mn=537686677188 dob=1980-02-17 d2=19800217 pp=TR1234567 ok=123 id=ABCDEFGHJKLM"
    masked = mask_text(text)
    for secret in ("537686677188", "1980-02-17", "19800217", "TR1234567"):
        assert secret not in masked
    assert "ok=123" in masked
    assert "id=ABCDEFGHJKLM" in masked  # a certificate id is not personal data


def test_json_log_lines_are_masked_and_carry_the_request_id() -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    log = logging.getLogger("certsvc.test")
    token = set_request_id("r-1")
    try:
        log.info("lookup %s", "537686677188", extra={"my_number": "537686677188", "n": 3})
        try:
            raise ValueError("row 537686677188 黒桐　幹也")
        except ValueError:
            log.exception("failed")
    finally:
        reset_request_id(token)
        configure_logging("WARNING")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["msg"] == "lookup ***"
    assert lines[0]["my_number"] == "***"
    assert lines[0]["n"] == 3
    assert lines[0]["request_id"] == "r-1"
    assert lines[1]["exc"] == "ValueError"
    assert "537686677188" not in stream.getvalue()
    assert "黒桐" not in stream.getvalue()
