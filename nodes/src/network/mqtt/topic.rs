//! MQTT topic names and filters — stub, written by the codec work package.
//! (Temporary signatures so dependants compile; replaced by the real module.)

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TopicError(String);

pub fn validate_topic_name(topic: &str) -> Result<(), TopicError> {
    if topic.is_empty() || topic.contains(['+', '#']) {
        return Err(TopicError(format!("bad topic '{topic}'")));
    }
    Ok(())
}

pub fn validate_filter(filter: &str) -> Result<(), TopicError> {
    if filter.is_empty() {
        return Err(TopicError("empty".into()));
    }
    Ok(())
}

pub fn matches(filter: &str, topic: &str) -> bool {
    filter == topic || filter == "#"
}
