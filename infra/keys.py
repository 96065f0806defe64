"""Every DynamoDB key string of the project is built here, and only here.

Catalog table: one partition per tenant (``T#{tenant}``); a product's children sort right after it
(``PROD#{code}#PUR#{id}#GRANT#{id}``), so one Query reads a page of products with their whole nesting.
Child ids are paths (``{productCode}:{purUlid}``) so that any record's key follows from its id alone.
"""

from __future__ import annotations

import hashlib
import os
import time

SEP = "#"
ID_SEP = ":"


def new_ulid() -> str:
    """A time-ordered, collision-resistant id (48-bit millisecond clock + 80 random bits), Crockford base32."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        value, rem = divmod(value, 32)
        chars.append(alphabet[rem])
    return "".join(reversed(chars))


def tenant_pk(tenant: str) -> str:
    return f"T{SEP}{tenant}"


def api_key_pk(key_hash: str) -> str:
    return f"KEY{SEP}{key_hash}"


API_KEY_SK = "KEY"


def api_keys_pk(tenant: str) -> str:
    """The partition listing a tenant's keys (one entry per key, without its secret or hash in the key)."""
    return f"{tenant_pk(tenant)}{SEP}APIKEYS"


def api_key_entry_sk(key_id: str) -> str:
    """A key's entry in its tenant's list; key ids are ULIDs, so the list reads in creation order."""
    return f"APIKEY{SEP}{key_id}"


API_KEY_ENTRY_PREFIX = f"APIKEY{SEP}"

# ---------------------------------------------------------------------------------------------- catalog sort keys
UOM_PREFIX = "UOM#"
PRODUCT_PREFIX = "PROD#"
CARD_PREFIX = "CARD#"


def unit_class_sk(code: str) -> str:
    return f"UOM{SEP}C{SEP}{code}"


def unit_sk(unit_code: str) -> str:
    return f"UOM{SEP}U{SEP}{unit_code}"


def resource_sk(code: str) -> str:
    return f"RES{SEP}{code}"


def resource_policy_sk(resource_code: str) -> str:
    return f"RES{SEP}{resource_code}{SEP}POLICY"


def product_sk(code: str) -> str:
    return f"PROD{SEP}{code}"


def product_range(code: str) -> tuple[str, str]:
    """SK bounds covering a product and all of its children (codes never contain '#' or '~')."""
    return product_sk(code), f"{product_sk(code)}{SEP}~"


def products_after(code: str | None) -> tuple[str, str]:
    """SK bounds of every product (and children) after ``code`` in code order."""
    start = f"{product_sk(code)}{SEP}~" if code else PRODUCT_PREFIX
    return start, "PROD$"


def binding_policy_sk(product_code: str) -> str:
    return f"{product_sk(product_code)}{SEP}BINDING"


def pur_id(product_code: str, ulid: str) -> str:
    return f"{product_code}{ID_SEP}{ulid}"


def grant_id(pur: str, ulid: str) -> str:
    return f"{pur}{ID_SEP}{ulid}"


def split_id(record_id: str) -> list[str]:
    return record_id.split(ID_SEP)


def pur_sk(pur: str) -> str:
    product_code, ulid = split_id(pur)[:2]
    return f"{product_sk(product_code)}{SEP}PUR{SEP}{ulid}"


def product_of_pur_sk(sk: str) -> str | None:
    """The product code of a PUR's sort key (``PROD#{code}#PUR#{ulid}``); None for any other key."""
    parts = sk.split(SEP)
    return parts[1] if len(parts) == 4 and parts[0] == "PROD" and parts[2] == "PUR" else None


def product_resource_policy_sk(pur: str) -> str:
    return f"{pur_sk(pur)}{SEP}POLICY"


def grant_sk(grant: str) -> str:
    product_code, pur_ulid, ulid = split_id(grant)
    return f"{pur_sk(pur_id(product_code, pur_ulid))}{SEP}GRANT{SEP}{ulid}"


def policy_sk(policy_id: str) -> str:
    return f"POLICY{SEP}{policy_id}"


def rate_card_sk(card_id: str) -> str:
    return f"CARD{SEP}{card_id}"


def rate_entry_id(card_id: str, ulid: str) -> str:
    return f"{card_id}{ID_SEP}{ulid}"


def rate_entry_sk(entry_id: str) -> str:
    card_id, ulid = split_id(entry_id)
    return f"{rate_card_sk(card_id)}{SEP}RATE{SEP}{ulid}"


def resource_ref_pk(tenant: str, resource_code: str) -> str:
    """GSI1 partition of every record that points at a resource (PURs, rate entries, token links)."""
    return f"{tenant_pk(tenant)}{SEP}REF{SEP}{resource_code}"


# ---------------------------------------------------------------------------------------------- accounts and wallets
# Accounts table. An account's partition holds the account and its subscriptions (one Query reads them all); a
# subscription id's guard makes external ids unique per tenant; a wallet's partition holds one counter item per
# credit (``C#``: one Query loads the wallet's state) and its DEBIT/REVERSAL ledger items (``L#``, by effective time).
ACCOUNT_SK = "ACCOUNT"
SUBSCRIPTION_PREFIX = "SUB#"
SUBSCRIPTION_GUARD_SK = "SUBSCRIPTION"
CREDIT_PREFIX = "C#"
LEDGER_PREFIX = "L#"


def account_pk(tenant: str, account_external_id: str) -> str:
    return f"{tenant_pk(tenant)}{SEP}ACCT{SEP}{account_external_id}"


def subscription_sk(subscription_external_id: str) -> str:
    return f"{SUBSCRIPTION_PREFIX}{subscription_external_id}"


def subscription_guard_pk(tenant: str, subscription_external_id: str) -> str:
    return f"{tenant_pk(tenant)}{SEP}SUBID{SEP}{subscription_external_id}"


def wallet_pk(tenant: str, wallet_id: str) -> str:
    return f"{tenant_pk(tenant)}{SEP}W{SEP}{wallet_id}"


def credit_sk(credit_id: str) -> str:
    return f"{CREDIT_PREFIX}{credit_id}"


def ledger_sk(ledger_key: str) -> str:
    """``ledger_key`` from ``core.wallets.ledger_key``: effective time first, so the ledger pages in time order."""
    return f"{LEDGER_PREFIX}{ledger_key}"


def ledger_from_sk(timestamp: str) -> str:
    """The lowest ledger sort key of the entries effective at ``timestamp`` (and after)."""
    return f"{LEDGER_PREFIX}{timestamp}{SEP}"


def ledger_after_sk(timestamp: str) -> str:
    """The lowest ledger sort key strictly after every entry effective at ``timestamp``."""
    return f"{LEDGER_PREFIX}{timestamp}{SEP}~"


LEDGER_END_SK = f"{LEDGER_PREFIX}~"


# ------------------------------------------------------------------------------------------ guided setup and activation
# Catalog table. A journal item per product makes a write of more than one transaction (≤ 100 items) all or
# nothing: the setup journal lists the records a guided setup creates (rolled back when interrupted), the
# activation journal the records an activation flips (completed when interrupted). See infra/README.md.
def setup_journal_sk(product_code: str) -> str:
    return f"JOURNAL{SEP}SETUP{SEP}{product_code}"


def activation_journal_sk(product_code: str) -> str:
    return f"JOURNAL{SEP}ACTIVATE{SEP}{product_code}"


# ---------------------------------------------------------------------------------------------- usage summaries
# Summaries table. An account's summaries share one partition, sorted by resource, then period start, then owner
# (``core.summaries.SummaryKey.id``), so one Query pages an account's summaries of a resource over a date range.
# gsi1 is sparse and KEYS_ONLY: an OPEN summary carries ``gsi1pk = OPEN#{shard}`` and ``gsi1sk = {closes at}``
# until it is closed, so the period-close job Queries what is due without a Scan, and updates of an OPEN summary
# that leave its closing time alone never write the index.
SUMMARY_PREFIX = "SUM#"
OPEN_SUMMARY_SHARDS = 8


def summaries_pk(tenant: str, account_external_id: str) -> str:
    return f"{tenant_pk(tenant)}{SEP}SUMS{SEP}{account_external_id}"


def summary_sk(summary_id: str) -> str:
    return f"{SUMMARY_PREFIX}{summary_id}"


def summary_range(resource_code: str | None, low_stamp: str | None, high_stamp: str | None) -> tuple[str, str]:
    """SK bounds of an account's summaries of one resource (or all) with period starts in [low, high]."""
    if resource_code is None:
        return SUMMARY_PREFIX, f"{SUMMARY_PREFIX}~"
    base = f"{SUMMARY_PREFIX}{resource_code}/"
    return f"{base}{low_stamp or ''}", f"{base}{high_stamp or ''}~"


def open_summaries_pk(shard: int) -> str:
    return f"OPEN{SEP}{shard}"


def open_summary_shard(tenant: str, account_external_id: str) -> int:
    """The OPEN-index partition of an account's summaries (stable, spread evenly)."""
    digest = hashlib.sha256(f"{tenant}{SEP}{account_external_id}".encode()).digest()
    return digest[0] % OPEN_SUMMARY_SHARDS


# gsi2 (KEYS_ONLY) lists a tenant's summaries by status for invoicing: gsi2pk = T#{tenant}#SUMST#{status},
# gsi2sk = {period end}#{account}#{summary id}; a status change moves the summary to another partition.
# Early-close markers (closeUsageSummaries) share one partition per tenant, sorted by the closed summary's
# original closing time, so ingestion's PERIOD_CLOSED gate reads the ones whose waiting period is still running
# with one Query: pk = T#{tenant}#EARLY, sk = {closes at}#{account}#{summary id}.


def summaries_status_pk(tenant: str, status: str) -> str:
    return f"{tenant_pk(tenant)}{SEP}SUMST{SEP}{status}"


def summaries_status_sk(period_end_stamp: str, account_external_id: str, summary_id: str) -> str:
    return f"{period_end_stamp}{SEP}{account_external_id}{SEP}{summary_id}"


def early_closes_pk(tenant: str) -> str:
    return f"{tenant_pk(tenant)}{SEP}EARLY"


def early_close_sk(closes_at_stamp: str, account_external_id: str, summary_id: str) -> str:
    return f"{closes_at_stamp}{SEP}{account_external_id}{SEP}{summary_id}"


# ---------------------------------------------------------------------------------------------- usage records
# Usage table. One item per record, its own partition: pk = T#{tenant}#U#{record id}, sk = "U". The record id
# derives from the tenant and the idempotency key (core.usage.usage_record_id), so a repeat maps onto the same
# item and a conditional insert refuses it. gsi1 (ALL) lists an account's records, newest start time first:
# gsi1pk = T#{tenant}#UA#{account external id}, gsi1sk = {start time, fixed-width UTC}#{record id}.
USAGE_SK = "U"


def usage_pk(tenant: str, record_id: str) -> str:
    return f"{tenant_pk(tenant)}{SEP}U{SEP}{record_id}"


def usage_account_pk(tenant: str, account_external_id: str) -> str:
    return f"{tenant_pk(tenant)}{SEP}UA{SEP}{account_external_id}"


def usage_account_sk(start_stamp: str, record_id: str) -> str:
    return f"{start_stamp}{SEP}{record_id}"


# ---------------------------------------------------------------------------------------------- usage uploads
# Usage table, beside the records it produces: pk = T#{tenant}#UPLOAD#{upload id}, sk = "UPLOAD". Written by the
# API (createUsageUpload) and updated by the ingest function; never a NEW usage record, so no stream filter lets
# its changes through to rating. The file itself is the object {INGEST_PREFIX}{tenant}/{upload id}/{file name}.
UPLOAD_SK = "UPLOAD"


def upload_pk(tenant: str, upload_id: str) -> str:
    return f"{tenant_pk(tenant)}{SEP}UPLOAD{SEP}{upload_id}"
