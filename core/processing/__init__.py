"""Rating and drawdown of usage records (DOMAIN §3–§4), pure: a batch of records and a context in, outcomes out.

``context`` is what storage reads for a batch; ``matching`` decides subscription, wallet, policy and rate;
``books`` holds the batch's wallets and summaries in memory; ``pipeline.process`` rates the records in order.
"""

from core.processing.context import CatalogView, RatingContext, WalletState, billing_terms
from core.processing.matching import Rate, Resolution, resolve_record, usage_time
from core.processing.outcome import Outcome, Problem, RatingCode, WalletDebits
from core.processing.pipeline import BatchResult, applied, process

__all__ = [
    "BatchResult",
    "CatalogView",
    "Outcome",
    "Problem",
    "Rate",
    "RatingCode",
    "RatingContext",
    "Resolution",
    "WalletDebits",
    "WalletState",
    "applied",
    "billing_terms",
    "process",
    "resolve_record",
    "usage_time",
]
