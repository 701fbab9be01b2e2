# ruff: noqa: E501, RUF001 - a verbatim copy: its long lines and typographic characters are the source's
"""A verbatim copy of the Etsy section of the provider facts file (shared/
providers.md, section 2: gathered from Etsy's OAS and docs, Aug 2026).

``test_etsy_contract`` checks the adapter's pinned values against it, and this
copy against the shared file when that sits next to the repository."""

FACTS = """\
## 2. Etsy Open API v3

**Hosts and headers**
- Base URL: `https://api.etsy.com/v3/application/`. `openapi.etsy.com` is equivalent. Source: developers.etsy.com/documentation/essentials/requests.
- `x-api-key: <keystring>:<shared_secret>`. The OAS security scheme says: "Every request to a v3 API endpoint must include this data in the format `keystring:shared_secret`." **Since Feb 9, 2026, requests without the shared secret are rejected.** Sources: the Etsy OAS (copy in amitray007/etsy-python-sdk `specs/baseline.json`, Aug 2026); github.com/etsy/open-api/discussions/1529.
- `Authorization: Bearer <numeric_user_id>.<token>` on every endpoint that needs a scope. Source: the requests doc.

**createDraftListing**
- `POST /v3/application/shops/{shop_id}/listings`, scope `listings_w`, body **`application/x-www-form-urlencoded`**. The docs example uses `; charset=utf-8`. Sources: the OAS; the requests doc "Encoding" example.
- Required fields:
  - `quantity` (int), `title`, `description`, `price` (float)
  - `who_made` (`i_did|someone_else|collective`)
  - `when_made` (`made_to_order|2020_2026|2010_2019|2007_2009|before_2007|2000_2006|1990s…1700s|before_1700`)
  - `taxonomy_id`
- Optional fields:
  - `shipping_profile_id` ("Required when listing type is physical"), `return_policy_id`, `readiness_state_id` (the processing profile)
  - `tags`, `materials`, `styles`, `image_ids` (up to 20)
  - `is_supply`, `is_customizable`, `should_auto_renew`, `is_taxable`, `type` (`physical|download|both`)
  - `item_weight`, `item_length`, `item_width`, `item_height` with their units
- Title rule: `%`, `:`, `&` and `+` may each appear only once.
- The `personalization_*` fields are marked DEPRECATED with removal announced for Apr 9, 2026 (still listed in the Aug 2026 spec).
- **The `when_made` enum changes over time.** It was `2020_2024` in an older copy, for example. Pin it from the spec.
- Array parameters are comma-separated. Source: developers.etsy.com/documentation/essentials/urlsyntax.
- Responses: 201, 400, 401, 403, 404, 500. Source: the OAS (baseline.json).

**Images and publishing**
- **uploadListingImage:** `POST /v3/application/shops/{shop_id}/listings/{listing_id}/images`, `multipart/form-data`.
  - Fields: `image` (binary), `listing_image_id`, `rank`, `overwrite`, `is_watermarked`, `alt_text` (up to 500 characters).
  - Responses include 409; image metadata may be null at first (async processing).
  - Source: the OAS.
- **Publishing (updateListing):** `PATCH /v3/application/shops/{shop_id}/listings/{listing_id}` (form-encoded) with `state=active`.
  - "Setting a `draft` listing to `active` will also publish the listing on etsy.com and requires that the listing have an image set."
  - A physical listing also needs a complete, valid shipping profile.
  - A digital listing that is not made to order needs a file; the error for this was changed in the 2025-01-06 release.
  - Sources: the OAS; newreleases.io etsy/open-api 3.0.0-general-release-2025-01-06.
  - Physical listings also belong to the processing-profiles migration (`readiness_state_id`). Source: developers.etsy.com/documentation/tutorials/migration.

**Errors and idempotency**
- Error shape: `{"error":"<string>"}` (the OAS `ErrorSchema`). OAuth failures look like `{"error":"invalid_grant","error_description":"refresh_token is revoked"}` (etsy/open-api#519).
- **There is no idempotency support:** the string "idempot" appears nowhere in the Aug 2026 OAS.

**Reconciliation**
- `getListingsByShop`: `GET …/shops/{shop_id}/listings?state=draft&limit=100&offset=…`.
  - `state` takes `active|inactive|sold_out|draft|expired`.
  - `limit` is 1–100, default 25.
  - `sort_on` and `sort_order` "only work when combined with one of the search options", so do not rely on the order of results.
- Confirm with `getListing` or `getListingsByListingIds` (`/v3/application/listings/batch`, up to 100 ids).
- **No listing endpoint filters by SKU.** A SKU lives in inventory (`updateListingInventory` `products[].sku`) and cannot be set by createDraftListing. Source: the OAS.
- Practical key: a marker token in `description` while the listing is a draft, plus `created_timestamp` ≥ the dispatch time. Strip the marker in the `updateListing` that publishes.

**Rate limits**
- The limits are QPS plus QPD: per API key for public authentication, per OAuth token for private. QPD is a sliding 24-hour window.
- Headers: `x-limit-per-second`, `x-remaining-this-second`, `x-limit-per-day`, `x-remaining-today`. An exceeded limit returns 429.
- Old defaults 10 QPS / 10,000 QPD; the current page's example shows 150 / 100,000 — read your app's limits in the Developer Portal.
- Sources: developer.etsy.com/documentation/essentials/rate-limits (current), developers.etsy.com/…/rate-limits (older).

**OAuth**
- The flow is authorization code plus **PKCE (S256), which is required**. The authorize URL is `https://www.etsy.com/oauth/connect`; the token URL is `https://api.etsy.com/v3/public/oauth/token`. Sources: developers.etsy.com/documentation/essentials/authentication; the OAS.
- Scopes: `listings_r/w/d`, `shops_r/w`, `transactions_r/w` and others.
- Token lifetimes: the **access token lasts 3600 s and the refresh token 90 days**. Source: etsy/open-api#116, which quotes the Etsy docs.
- Refresh with form-encoded `grant_type=refresh_token&client_id=…&refresh_token=…`. **Every refresh returns a new refresh token, so persist it** (etsy/open-api#353).
- A user password change revokes all tokens (etsy/open-api#519).

**SDK judgement.** Etsy has **no official SDK**. The best community option, `etsy-python` (amitray007), is maintained and drift-checks the OAS, but sends JSON bodies (`session.post(json=…)`) where the spec declares form-encoding, has no replay guard, and hides the wire format. Use **httpx**: form-encode the fields yourself, render them byte for byte, and keep the OAS `baseline.json` as a contract test.
"""
