-- Worklist pages with a filter walk an index that already has the filter's column in front of the reading order
-- (the same indexes as on PostgreSQL; one value of a filter is sent as an equality).
CREATE INDEX ix_worklist_items_site_order ON worklist_items (site, priority_score DESC, received_at ASC, study_instance_uid ASC) WHERE read_state = 'Open';
CREATE INDEX ix_worklist_items_class_order ON worklist_items (priority_class, priority_score DESC, received_at ASC, study_instance_uid ASC) WHERE read_state = 'Open';

-- the group filter's probe per study reads only the index
CREATE INDEX ix_worklist_assignments_study_group ON worklist_assignments (study_instance_uid, group_name);
DROP INDEX ix_worklist_assignments_study;
