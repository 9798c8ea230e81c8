-- The redemption shop (积分兑换): items with optional stock, and redemptions an admin fulfils or cancels.
CREATE TABLE shop_items (
    id {pk},
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    cost BIGINT NOT NULL,
    stock BIGINT,
    description TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL DEFAULT 'reward',
    active INTEGER NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);
CREATE INDEX shop_items_group ON shop_items (group_id, active);

CREATE TABLE redemptions (
    id {pk},
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    item_id BIGINT NOT NULL REFERENCES shop_items(id),
    user_id TEXT NOT NULL,
    cost BIGINT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    actor TEXT
);
CREATE INDEX redemptions_group_status ON redemptions (group_id, status, id);
