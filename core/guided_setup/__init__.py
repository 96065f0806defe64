"""Guided setup (DOMAIN §1.1): one call plans every record of an ANCHOR or PACK product's usage configuration.

``plan_setup`` is pure. From the input and what the tenant's catalog already holds it checks every field (each
problem reported with its input path, e.g. ``resources.2.grants.0.quantity``) and then plans, all as DRAFT: the
product if new, new usage resources, one PUR per resource (00:00 of the start date to 23:59:59 of the end date,
UTC), product-resource policies (anchors only), grants, and a BASE rate card with one entry per priced resource
and its tiers — wired to the default policies of ``core.policies.DEFAULT_POLICIES``, reusing an existing policy
with the same kind and settings instead of creating a copy. Nothing is written here; the caller writes the plan
all or nothing.

The package: ``model`` (input, catalog view, plan), ``checker`` (every field checked), ``policies`` (which policies
the records point at, reused when the tenant has them) and ``plan`` (``plan_setup``).
"""

from core.guided_setup.model import GuidedGrant, GuidedResource, GuidedSetup, NewResource, SetupCatalog, SetupPlan
from core.guided_setup.plan import plan_setup

__all__ = ["GuidedGrant", "GuidedResource", "GuidedSetup", "NewResource", "SetupCatalog", "SetupPlan", "plan_setup"]
