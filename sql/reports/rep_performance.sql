-- Sales-rep performance (question 9): each rep's deals, win rate, cycle time, conformance with the
-- target process, discounting and approval waits, and the gap to the best rep of the same team.
-- columns:
-- sales_rep: the opportunity owner
-- team: the rep's team
-- region: the rep's region
-- opportunities: opportunities owned
-- closed: of those, closed
-- won: of those, won
-- win_rate: won / closed
-- median_cycle_days: median days from Opportunity Created to Closed Won
-- conformance_rate: share of the rep's opportunities that follow the target process so far
-- avg_discount_pct: mean discount % of the rep's won deals
-- median_approval_hours: median hours the rep's discount approvals waited for a decision
-- team_best_win_rate: the best win rate among the team's reps with at least 10 closed deals
-- win_rate_gap_to_best: team_best_win_rate - win_rate
-- team_best_cycle_days: the shortest median cycle among the team's reps with at least 10 won deals
-- cycle_days_gap_to_best: median_cycle_days - team_best_cycle_days
WITH reps AS (
    SELECT
        f.sales_rep, any_value(f.team) AS team, any_value(f.region) AS region,
        count(*) AS opportunities,
        count(*) FILTER (WHERE f.is_closed) AS closed,
        count(*) FILTER (WHERE f.is_won) AS won,
        count(*) FILTER (WHERE f.is_won) / nullif(count(*) FILTER (WHERE f.is_closed), 0) AS win_rate,
        median(f.cycle_days) AS median_cycle_days,
        avg(f.is_conformant::INT) AS conformance_rate,
        exact_avg(CASE WHEN f.is_won THEN f.discount_pct END) AS avg_discount_pct
    FROM mining.case_facts AS f
    WHERE f.case_type = 'opportunity'
    GROUP BY f.sales_rep
), rep_approvals AS (
    SELECT f.sales_rep, median(a.wait_hours) AS median_approval_hours
    FROM mining.approval_waits AS a JOIN mining.case_facts AS f USING (case_id)
    GROUP BY f.sales_rep
), team_best AS (
    SELECT team,
           max(win_rate) FILTER (WHERE closed >= 10) AS team_best_win_rate,
           min(median_cycle_days) FILTER (WHERE won >= 10) AS team_best_cycle_days
    FROM reps
    GROUP BY team
)
SELECT
    r.sales_rep, r.team, r.region, r.opportunities, r.closed, r.won, r.win_rate, r.median_cycle_days,
    r.conformance_rate, r.avg_discount_pct, a.median_approval_hours,
    b.team_best_win_rate, b.team_best_win_rate - r.win_rate AS win_rate_gap_to_best,
    b.team_best_cycle_days, r.median_cycle_days - b.team_best_cycle_days AS cycle_days_gap_to_best
FROM reps AS r
LEFT JOIN rep_approvals AS a USING (sales_rep)
LEFT JOIN team_best AS b USING (team)
ORDER BY r.team, r.win_rate DESC
