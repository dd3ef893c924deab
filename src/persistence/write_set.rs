//! A batch of changes collapsed to what must be written: the last header of
//! each SKU and the last state of each reservation. A thousand reserves on one
//! hot SKU become one counter update and one multi-row upsert.

use std::collections::HashMap;

use crate::domain::events::{DomainEvent, stock_milestone};
use crate::domain::ids::{ReservationId, SkuId};
use crate::domain::ledger::{Change, Reservation, SkuHeader};
use crate::domain::time::Timestamp;

#[derive(Debug, Default)]
pub struct WriteSet {
    pub headers: Vec<SkuHeader>,
    pub reservations: Vec<(SkuId, Reservation)>,
    /// The milestones the changes crossed, all of them, in order: events
    /// are never collapsed.
    pub events: Vec<DomainEvent>,
}

impl WriteSet {
    /// Collapses changes given in the order they were decided.
    pub fn collapse<'a>(changes: impl IntoIterator<Item = &'a Change>) -> Self {
        let mut header_at: HashMap<SkuId, usize> = HashMap::new();
        let mut reservation_at: HashMap<(SkuId, ReservationId), usize> = HashMap::new();
        let mut set = WriteSet::default();
        let now = Timestamp::now();
        for change in changes {
            let sku = change.header.sku;
            set.events.extend(
                change
                    .milestones
                    .iter()
                    .map(|m| stock_milestone(*m, &change.header, now)),
            );
            match header_at.get(&sku) {
                Some(&i) => set.headers[i] = change.header,
                None => {
                    header_at.insert(sku, set.headers.len());
                    set.headers.push(change.header);
                }
            }
            if let Some(r) = &change.reservation {
                match reservation_at.get(&(sku, r.id.clone())) {
                    Some(&i) => set.reservations[i].1 = r.clone(),
                    None => {
                        reservation_at.insert((sku, r.id.clone()), set.reservations.len());
                        set.reservations.push((sku, r.clone()));
                    }
                }
            }
        }
        set
    }

    pub fn is_empty(&self) -> bool {
        self.headers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::UserId;
    use crate::domain::ledger::{Levels, ReservationStatus};
    use crate::domain::rules::SaleRules;
    use crate::domain::time::Timestamp;

    fn change(sku: i64, reserved: i64, id: &str, status: ReservationStatus) -> Change {
        Change {
            header: SkuHeader {
                sku: SkuId::new(sku),
                levels: Levels {
                    on_hand: 10,
                    reserved,
                    sold: 0,
                },
                rules: SaleRules::default(),
            },
            reservation: Some(Reservation {
                id: ReservationId::parse(id).expect("id"),
                user: UserId::new(1),
                quantity: 1,
                status,
                expires_at: Timestamp::from_millis(0),
                updated_at: Timestamp::from_millis(0),
            }),
            milestones: Vec::new(),
        }
    }

    #[test]
    fn keeps_the_last_state_of_everything() {
        use ReservationStatus::*;
        let changes = [
            change(1, 1, "a", Reserved),
            change(2, 1, "a", Reserved),
            change(1, 2, "b", Reserved),
            change(1, 1, "a", Released),
        ];
        let set = WriteSet::collapse(&changes);
        assert_eq!(set.headers.len(), 2);
        assert_eq!(set.headers[0].levels.reserved, 1);
        assert_eq!(set.reservations.len(), 3);
        assert_eq!(set.reservations[0].1.status, Released);
        assert_eq!(set.reservations[1].0, SkuId::new(2));
    }
}
