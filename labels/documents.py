"""Document dataclasses (re-exported from the pure core): what each label or sheet says."""
from __future__ import annotations

from labels.core.documents import (  # noqa: F401  (re-exported)
    CN22_CATEGORIES,
    DOCUMENT_TYPES,
    from_dict,
    SERVICE_MARKERS,
    Address,
    BinLabel,
    Cn22,
    CommercialInvoice,
    CustomsItem,
    Manifest,
    ManifestShipment,
    PackingSlip,
    PickLine,
    PickList,
    ShippingLabel,
    SkuLabel,
    SlipLine,
    SsccLabel,
    ToteLabel,
)
