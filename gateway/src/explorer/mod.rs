pub mod dispatch;
