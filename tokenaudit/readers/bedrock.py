"""Amazon Bedrock model invocation logs: one ``ModelInvocationLog`` record per model call.

Bedrock's invocation logging (Bedrock console, Settings, Model invocation logging) delivers each call as
a JSON record, to S3 as gzip JSON Lines under ``AWSLogs/<account>/BedrockModelInvocationLogs/…`` and to a
CloudWatch Logs group (stream ``aws/bedrock/modelinvocations``), which ``aws logs create-export-task``
copies to S3 as gzip text lines ``<ISO time> <record>``. Both are read here (``.gz`` or not); so is one
pretty-printed record or a JSON array of them. Record fields (AWS user guide, "Monitor model invocation
using CloudWatch Logs and Amazon S3"): ``schemaType`` (``ModelInvocationLog``), ``timestamp`` (RFC 3339
UTC), ``accountId``, ``identity.arn``, ``region``, ``requestId``, ``operation`` (``InvokeModel``,
``Converse``…), ``modelId``, ``errorCode`` on failed calls, ``input.inputTokenCount`` (+ optional
``cacheReadInputTokenCount`` and ``cacheWriteInputTokenCount``), ``output.outputTokenCount``.

Tokens. Bedrock reports input separately from cache reads and writes (its Converse ``TokenUsage``
totals them as parts), so ``inputTokenCount`` is uncached input as it stands. A failed call
(``errorCode``) without counts is kept with zero tokens; a successful one without counts is a reject.

Identity. The developer is the caller's ARN exactly as logged (``arn:aws:sts::<account>:assumed-role/
<role>/<session>``, ``arn:aws:iam::<account>:user/<name>``…): nothing is cut, so the policy's ``agents:``
rules can match the role of an agent platform, and the identity map resolves the session name (an SSO
user's e-mail) or IAM user name as an alias (:mod:`tokenaudit.identity`).

Model. Inference profiles (``us.…``, ``eu.…``, ``global.…``, or their ARN) and Anthropic's Bedrock ids
(``anthropic.claude-sonnet-4-5-20250929-v1:0``) are named as the vendor names the model
(``claude-sonnet-4-5-20250929``), so list prices apply; other providers' ids are kept as logged.

Privacy. ``input.inputBodyJson`` and ``output.outputBodyJson`` hold the prompt and the answer: they are
never decoded (the record schema does not name them), so no text reaches events, rejects or memory.

Duplicates: ``bedrock:<requestId>``: the same call delivered to both S3 and CloudWatch counts once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

import polars as pl

from tokenaudit.readers import coerce
from tokenaudit.readers.base import Detection, ReadContext, ReadResult
from tokenaudit.readers.pages import read_records, text_fields
from tokenaudit.readers.parse import fields_as_json
from tokenaudit.readers.sources import Source
from tokenaudit.schema import conform

_COUNTS = {
    "input_tokens": ("input", "inputTokenCount"),
    "cache_read_tokens": ("input", "cacheReadInputTokenCount"),
    "cache_write_tokens": ("input", "cacheWriteInputTokenCount"),
    "output_tokens": ("output", "outputTokenCount"),
}
_RECORD = text_fields(
    "schemaType",
    "timestamp",
    "requestId",
    "operation",
    "modelId",
    "errorCode",
    identity=text_fields("arn"),
    input=text_fields(*(leaf for part, leaf in _COUNTS.values() if part == "input")),
    output=text_fields("outputTokenCount"),
)
_FIELDS = {
    "timestamp": "timestamp",
    "requestId": "requestId",
    "modelId": "modelId",
    "errorCode": "errorCode",
    "arn": "identity.arn",
    **{name: f"{part}.{leaf}" for name, (part, leaf) in _COUNTS.items()},
}
_CLOUDWATCH_PREFIX = re.compile(rb"(?m)^\d{4}-\d{2}-\d{2}T[0-9:.]+Z? (?=\{)")
"""The time a CloudWatch Logs export task writes before each record."""
_GEO_PREFIX = r"^(?:us|us-gov|eu|apac|jp|au|ca|global)\."


def _without_export_prefix(source: Source) -> Source:
    """The source with CloudWatch export times cut from its lines (line numbers unchanged)."""
    if not _CLOUDWATCH_PREFIX.match(source.head.lstrip(b"\xef\xbb\xbf")):
        return source
    return Source(name=source.name, path=source.path, data=_CLOUDWATCH_PREFIX.sub(b"", source.read_bytes()))


def vendor_model(model_id: pl.Expr) -> pl.Expr:
    """Bedrock's model id as the vendor names the model: ARN path, geography prefix and Anthropic wrapping off."""
    bare = model_id.str.replace(r"^arn:[^/]*/", "").str.replace(_GEO_PREFIX, "")
    anthropic = bare.str.starts_with("anthropic.")
    unwrapped = bare.str.replace(r"^anthropic\.", "").str.replace(r"-v\d+(?::\d+)?$", "")
    return pl.when(anthropic).then(unwrapped).otherwise(bare)


def _parsed() -> dict[str, coerce.Parsed]:
    return {
        "timestamp": coerce.timestamp("timestamp", "UTC"),
        "developer": coerce.text("arn", field="identity.arn", required=True),
        "request_id": coerce.text("requestId", required=True),
        "model": coerce.Parsed(vendor_model(pl.col("modelId").str.strip_chars()), pl.lit(None, pl.String)),
        **{
            name: coerce.count(name, field=_FIELDS[name], required=name in {"input_tokens", "output_tokens"})
            for name in _COUNTS
        },
    }


class BedrockInvocationLogReader:
    """Amazon Bedrock model invocation logs (S3 delivery or CloudWatch Logs export), one row per call."""

    name: ClassVar[str] = "bedrock-invocations"
    title: ClassVar[str] = "Amazon Bedrock model invocation logs (S3 delivery or CloudWatch Logs export, .json.gz)"
    exported_by: ClassVar[str] = (
        "aws s3 sync s3://<bucket>/<prefix>/AWSLogs/<account>/BedrockModelInvocationLogs/ bedrock-logs/ "
        "(logging delivered to S3), or aws logs create-export-task --log-group-name <group> --from <ms> --to <ms> "
        "--destination <bucket>, aws s3 sync of the export, then pass its files by glob ('export/**/*.gz': "
        "their names have no data extension, so a folder walk skips them)"
    )
    limits: ClassVar[str] = (
        "only models invoked through bedrock-runtime with logging on (per account and region); identity is the "
        "caller's IAM ARN, a person only when the session or user name is one (map it, or attribute agent roles "
        "with the policy's agents: rules); no cost in the log (Anthropic models priced at list price, Bedrock "
        "regional premiums not applied; other providers unpriced unless priced in the policy); no session id; "
        "prompt bodies are not read, so no prompt signature"
    )

    def detect(self, source: Source, context: ReadContext) -> Detection:
        """Records whose ``schemaType`` is ``ModelInvocationLog``."""
        text = source.head_text()
        if '"schemaType"' in text and '"ModelInvocationLog"' in text:
            return Detection(True)
        return Detection(False, 'no Bedrock invocation records ("schemaType": "ModelInvocationLog")')

    def read(self, sources: Sequence[Source], context: ReadContext) -> ReadResult:
        """Every invocation record of every file, one request row each."""
        records, invalid = read_records([_without_export_prefix(source) for source in sources], _RECORD)
        flat = records.with_columns(
            arn=pl.col("identity").struct.field("arn"),
            **{name: pl.col(part).struct.field(leaf) for name, (part, leaf) in _COUNTS.items()},
        ).with_columns(
            # A failed call logs no counts: zero tokens, not a reject.
            [
                pl.when(pl.col("errorCode").is_not_null()).then(pl.col(name).fill_null("0")).otherwise(pl.col(name))
                for name in ("input_tokens", "output_tokens")
            ]
        )
        good, rejects = coerce.split_rejects(flat, _parsed(), raw=fields_as_json(_FIELDS))
        events = good.with_columns(
            dedup_key=pl.lit("bedrock:") + pl.col("request_id"),
            tool=pl.lit("bedrock"),
            grain=pl.lit("request"),
            requests=pl.lit(1),
            source_format=pl.lit(self.name),
        )
        collected, rejected = pl.collect_all([conform(events), rejects])
        return ReadResult(events=collected, rejects=pl.concat([invalid, rejected], how="vertical"))
