"""Ingest acks are written without building a pydantic model; they must read exactly as
the protocol model would have written them (docs/protocol.md, "Ingest")."""

from hypothesis import given
from hypothesis import strategies as st

from attune.api.ingest import ack_text
from attune.protocol.ingest import MAX_SEQ, Ack, service_message


@given(st.integers(min_value=0, max_value=MAX_SEQ))
def test_ack_text_is_the_model_s_json(seq: int) -> None:
    assert ack_text(seq) == Ack(v=1, seq=seq).model_dump_json()
    assert service_message.validate_json(ack_text(seq)) == Ack(v=1, seq=seq)
