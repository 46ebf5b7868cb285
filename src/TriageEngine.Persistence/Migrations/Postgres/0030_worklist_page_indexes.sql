-- Worklist pages with a filter walk an index that already has the filter's column in front of the reading order,
-- instead of walking the whole reading order and discarding what does not match (the planner assumes the filter's
-- matches are spread evenly through the order; when they are not, e.g. one site's studies all ranked low, a page
-- read tens of thousands of rows). One value of a filter is sent as an equality, which these indexes serve in order.
CREATE INDEX ix_worklist_items_site_order ON worklist_items (site, priority_score DESC, received_at ASC, study_instance_uid COLLATE "C" ASC) WHERE read_state = 'Open';
CREATE INDEX ix_worklist_items_class_order ON worklist_items (priority_class, priority_score DESC, received_at ASC, study_instance_uid COLLATE "C" ASC) WHERE read_state = 'Open';

-- a reader's group filter probes the assignments of each candidate study: with the group in the index the probe
-- needs no table access (index-only scan); it also serves every lookup by study, so the study-only index goes
CREATE INDEX ix_worklist_assignments_study_group ON worklist_assignments (study_instance_uid, group_name);
DROP INDEX ix_worklist_assignments_study;
