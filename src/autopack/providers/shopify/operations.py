"""The Admin GraphQL operations the Shopify adapter sends: one constant each.

A query string is part of the rendered request a person approves (and of its
hash), so each is a fixed text; only the variables change with the payload.
Wire facts (see the Shopify section of the providers facts file):

- ``productSet(input:, identifier:, synchronous: true)`` upserts by identifier
  (``id | handle | customId``) since 2025-04, so a resend updates the product
  the first send created instead of making a second one.
- ``productByIdentifier(identifier:)`` (since 2025-01) finds it again for
  reconciliation, by the same identifier.
- ``inventoryAdjustQuantities`` takes the ``@idempotent(key:)`` directive since
  2026-01 (mandatory from 2026-04): a repeated key returns the first result.
- ``metafieldsSet`` sets values (a set, not an increment): a resend converges.
"""

from __future__ import annotations

from typing import Final

PRODUCT_SET_OPERATION: Final = "AutopackProductSet"
PRODUCT_SET_MUTATION: Final = (
    "mutation AutopackProductSet($input: ProductSetInput!, "
    "$identifier: ProductSetIdentifiers!) {\n"
    "  productSet(input: $input, identifier: $identifier, synchronous: true) {\n"
    "    product { id handle title status updatedAt }\n"
    "    userErrors { code field message }\n"
    "  }\n"
    "}"
)

PRODUCT_BY_IDENTIFIER_OPERATION: Final = "AutopackProductByIdentifier"
PRODUCT_BY_IDENTIFIER_QUERY: Final = (
    "query AutopackProductByIdentifier($identifier: ProductIdentifierInput!) {\n"
    "  productByIdentifier(identifier: $identifier) { id handle title status updatedAt }\n"
    "}"
)

INVENTORY_ADJUST_OPERATION: Final = "AutopackInventoryAdjust"
INVENTORY_ADJUST_MUTATION: Final = (
    "mutation AutopackInventoryAdjust($input: InventoryAdjustQuantitiesInput!, "
    "$idempotencyKey: String!) {\n"
    "  inventoryAdjustQuantities(input: $input) @idempotent(key: $idempotencyKey) {\n"
    "    inventoryAdjustmentGroup {\n"
    "      id createdAt reason referenceDocumentUri\n"
    "      changes { name delta quantityAfterChange item { id } location { id } }\n"
    "    }\n"
    "    userErrors { code field message }\n"
    "  }\n"
    "}"
)

METAFIELDS_SET_OPERATION: Final = "AutopackMetafieldsSet"
METAFIELDS_SET_MUTATION: Final = (
    "mutation AutopackMetafieldsSet($metafields: [MetafieldsSetInput!]!) {\n"
    "  metafieldsSet(metafields: $metafields) {\n"
    "    metafields { id ownerType namespace key type value }\n"
    "    userErrors { code elementIndex field message }\n"
    "  }\n"
    "}"
)
