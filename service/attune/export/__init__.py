"""Exports of recorded sessions and the live Lab Streaming Layer outlet (docs/exports.md).

An I/O shell around pure formatters: ``record.build_record`` runs a session's recording
through the same pipeline as live and re-analysis; the formatters (``tables``, ``kubios``,
``edf``, ``document``, ``report``) turn that record into files; ``formats`` names them for the
CLI and the API; ``load`` reads a session from the store. ``lsl`` publishes live sessions to
Lab Streaming Layer from the live hub.
"""
