//! Whole screens drawn from an App driven by the feed's own core.

use std::sync::Arc;

use super::DrawState;
use crate::app::{Action, App, Health, KeyAction, ViewerSetup};

#[test]
fn a_refused_product_shows_down_with_the_servers_words_and_the_others_do_not() {
    use crate::feed::core::FeedCore;
    use crate::feed::events::{BookState, ViewRequest};
    let products = vec!["BTC-USD".to_owned(), "FOO-BAR".to_owned()];
    let mut core = FeedCore::new("ws://sim", &products, false, 1_000);
    core.connection_started(1_000, false);
    core.on_frame(
        r#"{"type":"error","message":"failure to subscribe","reason":"FOO-BAR is not a valid product"}"#,
        1_100,
    );
    let view = core.view(&ViewRequest::default(), 1_100);
    assert_eq!(view.products[1].state, BookState::Refused);
    let setup = ViewerSetup {
        products,
        endpoint: "ws://sim".into(),
        ..ViewerSetup::default()
    };
    let mut app = App::new(setup, 1_100);
    app.update(super::resize(100, 30));
    app.update(Action::View(Arc::new(view)));
    assert_eq!(app.health_of(0), Health::Connecting);
    assert_eq!(app.health_of(1), Health::Down);
    app.update(Action::Key(KeyAction::SelectProduct(1)));
    let area = ratatui::layout::Rect::new(0, 0, 100, 30);
    let mut buf = ratatui::buffer::Buffer::empty(area);
    super::render(&app, &mut DrawState::default(), area, &mut buf);
    let text: String = (0..area.height)
        .map(|y| {
            (0..area.width)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
                + "\n"
        })
        .collect();
    assert!(text.contains("FOO-BAR: not available"), "{text}");
    assert!(
        text.contains("failure to subscribe: FOO-BAR is not a valid product"),
        "{text}"
    );
    assert!(text.contains("DOWN"), "{text}");
}
